package emulator

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Demo descriptions of the demo requests.
const (
	DemoWeekly  = "Weekly admin extract"
	DemoRunning = "Issues extract (running)"
)

// Demo fills an account with two data requests: DemoWeekly with three
// completed jobs (a week apart, each a README.html, CSVs and
// autodesk_data_extract.zip holding them) and one still running, and
// DemoRunning whose only job is still running.
func (s *Service) Demo(accountID string, projectIDs []string) {
	base := time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	weekly := s.AddRequest(accountID, "", DemoWeekly)
	for i := range 3 {
		started := base.AddDate(0, 0, 7*i)
		s.AddJob(accountID, weekly, started, started.Add(61*time.Second+time.Duration(i)*time.Second), DemoExtract(accountID, projectIDs, i))
	}
	s.AddJob(accountID, weekly, base.AddDate(0, 0, 21), time.Time{}, nil)
	running := s.AddRequest(accountID, "", DemoRunning)
	s.AddJob(accountID, running, base.AddDate(0, 0, 20), time.Time{}, nil)
}

// DemoExtract returns the files of one demo extract; run varies the row
// counts so extracts differ.
func DemoExtract(accountID string, projectIDs []string, run int) []File {
	csvs := []File{
		{Name: "admin_account_services.csv", Data: []byte("bim360_account_id,service\n" + accountID + ",doc_manager\n" + accountID + ",field\n")},
		{Name: "admin_projects.csv", Data: projectsCSV(accountID, projectIDs)},
		{Name: "admin_users.csv", Data: usersCSV(accountID, 20+5*run)},
		{Name: "issues_issues.csv", Data: issuesCSV(accountID, 50+25*run)},
		{Name: "submittals_specs.csv", Data: []byte("bim360_account_id,spec_id,title\n")},
	}
	readme := []byte("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Autodesk Data Extract</title></head><body>\n" +
		"<h1>Data extract schema</h1>\n<p>Each CSV file holds the objects of one service. Columns are described below.</p>\n<ul>\n" +
		"<li>admin_users.csv: bim360_account_id, user_id, email, name, status</li>\n" +
		"<li>issues_issues.csv: bim360_account_id, bim360_project_id, issue_id, title, status, \"quoted, text\"</li>\n</ul>\n</body></html>\n")
	all := append([]File{{Name: "README.html", Data: readme}}, csvs...)
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, f := range all {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: time.Date(2026, 11, 2, 6, 1, 0, 0, time.UTC)})
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(f.Data)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return append(all, File{Name: "autodesk_data_extract.zip", Data: zb.Bytes()})
}

func projectsCSV(accountID string, projectIDs []string) []byte {
	var b strings.Builder
	b.WriteString("bim360_account_id,id,name,status\n")
	for i, p := range projectIDs {
		fmt.Fprintf(&b, "%s,%s,Project %d,active\n", accountID, p, i+1)
	}
	return []byte(b.String())
}

func usersCSV(accountID string, n int) []byte {
	var b strings.Builder
	b.WriteString("bim360_account_id,user_id,email,name,status\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,U%05d,user%d@example.com,\"Doe, User %d\",active\n", accountID, i, i, i)
	}
	return []byte(b.String())
}

func issuesCSV(accountID string, n int) []byte {
	var b strings.Builder
	b.WriteString("bim360_account_id,issue_id,title,status,description\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,I%05d,Issue %d,open,\"Line one\nline \"\"two\"\" of issue %d\"\n", accountID, i, i, i)
	}
	return []byte(b.String())
}
