package bim360

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// errorBody covers the error shapes APS answers with; at most one part is
// normally present:
//   - JSON:API: {"errors":[{"status","code","title","detail"}]}
//   - the Data Management 403 warnings: {"meta":{"warnings":[{"HttpStatusCode","ErrorCode","Title","Detail"}]}}
//   - OSS: {"reason":"…"}
//   - the gateway's 429 and legacy errors: {"developerMessage":"…","errorCode":"…"}
//   - OAuth: {"error":"…","error_description":"…"}
type errorBody struct {
	Errors []struct {
		Status string `json:"status"`
		Code   string `json:"code"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	} `json:"errors"`
	Meta struct {
		Warnings []struct {
			HTTPStatusCode string `json:"HttpStatusCode"`
			ErrorCode      string `json:"ErrorCode"`
			Title          string `json:"Title"`
			Detail         string `json:"Detail"`
		} `json:"warnings"`
	} `json:"meta"`
	Reason           string `json:"reason"`
	DeveloperMessage string `json:"developerMessage"`
	ErrorCode        string `json:"errorCode"`
	OAuthError       string `json:"error"`
	OAuthDescription string `json:"error_description"`
}

// DecodeError turns an APS error response into a *remote.Error whose Kind
// comes from the HTTP status. Bodies are best-effort: the specs leave most
// 4xx bodies undefined, so unknown shapes keep a short excerpt.
func DecodeError(op string, resp *http.Response, body []byte) error {
	e := &remote.Error{Kind: remote.KindForStatus(resp.StatusCode), Op: op, Status: resp.StatusCode}
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		switch {
		case len(b.Errors) > 0:
			e.Code = b.Errors[0].Code
			e.Message = joinMsg(b.Errors[0].Title, b.Errors[0].Detail)
		case len(b.Meta.Warnings) > 0:
			w := b.Meta.Warnings[0]
			e.Code = w.ErrorCode
			e.Message = joinMsg(w.Title, w.Detail)
		case b.Reason != "":
			e.Message = b.Reason
		case b.DeveloperMessage != "":
			e.Code = b.ErrorCode
			e.Message = b.DeveloperMessage
		case b.OAuthError != "":
			e.Code = b.OAuthError
			e.Message = b.OAuthDescription
		}
	}
	if e.Message == "" && e.Code == "" {
		e.Message = httpx.Excerpt(body)
	}
	return e
}

// decodeS3Error decodes the XML error of a signed S3 URL. Only Code and
// Message are kept: S3 bodies may echo the signature and the string it
// signed, which belong with the URL's secrets.
func decodeS3Error(op string, resp *http.Response, body []byte) error {
	e := &remote.Error{Kind: remote.KindForStatus(resp.StatusCode), Op: op, Status: resp.StatusCode}
	var x struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &x) == nil {
		e.Code, e.Message = x.Code, x.Message
	}
	if e.Code == "" && e.Message == "" {
		// Not S3's XML (an OSS fallback URL or a proxy): fall back to the
		// APS shapes, which never carry secrets.
		var b errorBody
		if json.Unmarshal(body, &b) == nil && b.Reason != "" {
			e.Message = b.Reason
		}
	}
	return e
}

func joinMsg(title, detail string) string {
	title, detail = strings.TrimSpace(title), strings.TrimSpace(detail)
	switch {
	case title == "":
		return detail
	case detail == "" || detail == title:
		return title
	}
	return title + ": " + detail
}
