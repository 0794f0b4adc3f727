package bim360

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Secure Service Account login (specs/aps-extra/secureserviceaccount.yaml).
//
// An unattended server has no browser for a three-legged login, and
// client-credentials tokens have no user, which the Data Connector and
// other user-only calls need. A Secure Service Account is a user of the
// app's own: the app signs a short JWT with the account's private key and
// exchanges it at /authentication/v2/token (grant
// urn:ietf:params:oauth:grant-type:jwt-bearer, Basic client
// authentication) for a three-legged access token of that account. There
// is no refresh token; when the token runs out a new JWT is signed.
//
// The JWT library is github.com/golang-jwt/jwt/v5: signing and verifying
// JOSE is a solved problem with known pitfalls (algorithm confusion, claim
// validation), better left to a maintained library than written again.

// JWTBearerGrant is the grant_type of the assertion exchange.
const JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// assertionLifetime is how long a signed assertion is valid; it is used at
// once, so a short life limits the harm of one that leaks.
const assertionLifetime = 5 * time.Minute

// AssertionClaims are the claims of a service-account assertion: iss the
// app's client ID, sub the service account's ID, aud the token endpoint's
// URL, exp, and the scopes asked for.
type AssertionClaims struct {
	Scope []string `json:"scope"`
	jwt.RegisteredClaims
}

// serviceAccountKey is a service account's private key and its ID.
type serviceAccountKey struct {
	id  string
	key *rsa.PrivateKey
}

// keyFileJSON is the answer of create-service-account-key, which is how
// the private key reaches the user ("returned once during its creation").
type keyFileJSON struct {
	KID        string `json:"kid"`
	PrivateKey string `json:"privateKey"`
}

// loadServiceAccountKey reads the private key file: the JSON answer of
// create-service-account-key, or a PEM key (PKCS#1 or PKCS#8) whose ID is
// kid. The file must be readable by its owner only.
func loadServiceAccountKey(op, path, kid string) (*serviceAccountKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &remote.Error{Kind: remote.Invalid, Op: op, Message: "service account key file", Err: err}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, remote.Errorf(remote.Permission, op, "service account key file %s is readable by others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &remote.Error{Kind: remote.Invalid, Op: op, Message: "service account key file", Err: err}
	}
	pemText := b
	var kf keyFileJSON
	if json.Unmarshal(b, &kf) == nil && kf.PrivateKey != "" {
		pemText = []byte(kf.PrivateKey)
		if kid == "" {
			kid = kf.KID
		}
	}
	key, err := parseRSAKey(pemText)
	if err != nil {
		return nil, remote.Errorf(remote.Invalid, op, "service account key file %s: %v", path, err)
	}
	if kid == "" {
		return nil, remote.Errorf(remote.Invalid, op, "service account key file %s does not name its key ID; set service_account_key_id", path)
	}
	return &serviceAccountKey{id: kid, key: key}, nil
}

func parseRSAKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA private key")
	}
	return rk, nil
}

// sign returns a fresh assertion for the service account.
func (k *serviceAccountKey) sign(cfg *Config, now time.Time) (string, error) {
	claims := AssertionClaims{
		Scope: Scopes,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    cfg.ClientID,
			Subject:   cfg.ServiceAccount,
			Audience:  jwt.ClaimStrings{cfg.BaseURL + tokenPath},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.id
	return t.SignedString(k.key)
}

// serviceAccountFunc obtains a token by signing a new assertion and
// exchanging it; it is the TokenSource's refresh function, so an expired
// or rejected token is replaced by re-signing.
func (cfg *Config) serviceAccountFunc(key *serviceAccountKey) httpx.RefreshFunc {
	const op = "token.serviceAccount"
	return func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		assertion, err := key.sign(cfg, time.Now())
		if err != nil {
			return nil, &remote.Error{Kind: remote.Invalid, Op: op, Message: "signing the service account assertion", Err: err}
		}
		tok, err := cfg.exchangeAssertion(ctx, assertion)
		if err != nil {
			e := cfg.tokenError(ctx, op, err)
			var re *remote.Error
			if errors.As(e, &re) && re.Kind == remote.Unauthenticated {
				re.Message = fmt.Sprintf("the service refused service account %s (key %s): %s; check that the account and the key are enabled and belong to client %s",
					cfg.ServiceAccount, key.id, re.Message, cfg.ClientID)
			}
			return nil, e
		}
		return tok, nil
	}
}

// assertionAnswer is the spec's exchange-jwt-token.
type assertionAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// exchangeAssertion is POST /authentication/v2/token
// (exchange-jwt-assertion) with Basic client authentication. Failures are
// *oauth2.RetrieveError, as for the other grants, for tokenError.
func (cfg *Config) exchangeAssertion(ctx context.Context, assertion string) (*oauth2.Token, error) {
	// No scope field: the spec types it as an array but describes a
	// space-delimited string, and without it the token gets the
	// assertion's scopes, which are the ones wanted.
	form := url.Values{"grant_type": {JWTBearerGrant}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.BaseURL+tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	resp, err := cfg.baseClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var o struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &o)
		return nil, &oauth2.RetrieveError{Response: resp, Body: body, ErrorCode: o.Error, ErrorDescription: o.Description}
	}
	var a assertionAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.AccessToken == "" {
		return nil, errors.New("the token answer has no access token")
	}
	tok := &oauth2.Token{AccessToken: a.AccessToken, TokenType: a.TokenType}
	if a.ExpiresIn > 0 {
		tok.Expiry = time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return tok, nil
}

// loginServiceAccount checks a service-account configuration by getting
// one token: there is nothing to store, every mount signs its own.
func (cfg *Config) loginServiceAccount(ctx context.Context, op string) error {
	key, err := loadServiceAccountKey(op, cfg.ServiceAccountKeyFile, cfg.ServiceAccountKeyID)
	if err != nil {
		return err
	}
	if _, err := cfg.serviceAccountFunc(key)(ctx, nil); err != nil {
		return err
	}
	cfg.Logger.Info("service account login works: mounts sign their own tokens, no browser login or stored token is needed",
		"service_account", cfg.ServiceAccount, "key_id", key.id)
	return nil
}
