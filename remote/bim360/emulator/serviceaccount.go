package emulator

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Secure Service Accounts (specs/aps-extra/secureserviceaccount.yaml): the
// jwt-bearer grant of POST /authentication/v2/token. The management
// operations (create accounts and keys) are not served; tests register an
// account and its public key with AddServiceAccount instead.

// jwtBearerGrant is the grant_type of the assertion exchange.
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// maxAssertionLife bounds exp - now of an assertion (emulator: the spec
// names no limit; a long-lived assertion would be a bearer credential).
const maxAssertionLife = time.Hour

// ServiceAccount is a registered service account and one of its keys.
type ServiceAccount struct {
	// ID is the account's Autodesk ID, the assertion's sub.
	ID string
	// Email is <name>@<clientID>.adskserviceaccount.autodesk.com.
	Email string
	// KeyID is the key's ID, the assertion header's kid.
	KeyID string
}

// serviceKey is a registered public key.
type serviceKey struct {
	account  ServiceAccount
	pub      *rsa.PublicKey
	disabled bool
}

// AddServiceAccount registers a service account named name of the
// emulator's client with the public half of its key, as
// create-service-account and create-service-account-key would.
func (s *Server) AddServiceAccount(name string, pub *rsa.PublicKey) ServiceAccount {
	o := s.Options()
	sa := ServiceAccount{
		ID:    strings.ToUpper(randomToken(12)),
		Email: fmt.Sprintf("%s@%s.adskserviceaccount.autodesk.com", name, o.ClientID),
		KeyID: randomToken(16),
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.serviceKeys == nil {
		s.auth.serviceKeys = map[string]*serviceKey{}
	}
	s.auth.serviceKeys[sa.KeyID] = &serviceKey{account: sa, pub: pub}
	return sa
}

// DisableServiceAccountKey disables a key: assertions signed with it are
// refused (400 invalid_grant).
func (s *Server) DisableServiceAccountKey(keyID string) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if k := s.auth.serviceKeys[keyID]; k != nil {
		k.disabled = true
	}
}

// assertionClaims are the claims the emulator checks.
type assertionClaims struct {
	Scope []string `json:"scope"`
	jwt.RegisteredClaims
}

// verifyAssertion checks an assertion: signed RS256 with a registered,
// enabled key (kid), issued by the client, for the service account of
// that key, to this token endpoint, not expired and not valid for too
// long. It returns the account and the scopes asked for.
func (s *Server) verifyAssertion(raw string, clientID string, now time.Time) (ServiceAccount, []string, error) {
	var key *serviceKey
	var claims assertionClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.auth.mu.Lock()
		key = s.auth.serviceKeys[kid]
		s.auth.mu.Unlock()
		if key == nil || key.disabled {
			return nil, errors.New("unknown or disabled key")
		}
		return key.pub, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(clientID),
		jwt.WithAudience(s.URL+"/authentication/v2/token"),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch {
	case err != nil:
		return ServiceAccount{}, nil, err
	case claims.Subject != key.account.ID:
		return ServiceAccount{}, nil, errors.New("sub is not the service account of the key")
	case claims.ExpiresAt.Sub(now) > maxAssertionLife:
		return ServiceAccount{}, nil, fmt.Errorf("exp is more than %v ahead", maxAssertionLife)
	}
	return key.account, claims.Scope, nil
}

// handleJWTBearer serves the jwt-bearer grant: a confidential client
// (secretOK) exchanges a service account's assertion for a three-legged
// access token of that account, without a refresh token.
func (s *Server) handleJWTBearer(w http.ResponseWriter, r *http.Request, opts Options, secretOK bool) {
	if !secretOK {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "the assertion exchange is for confidential clients: authenticate with the client secret")
		return
	}
	f := r.PostForm
	assertion := f.Get("assertion")
	if assertion == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "assertion is required")
		return
	}
	sa, scopes, err := s.verifyAssertion(assertion, opts.ClientID, s.now())
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "the assertion is not valid: "+err.Error())
		return
	}
	granted := strings.Join(scopes, " ")
	if !validScopes(granted) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "the assertion asks for an unknown scope")
		return
	}
	scope := granted
	if want := f.Get("scope"); want != "" {
		for _, sc := range strings.Fields(want) {
			if !hasScope(granted, sc) {
				writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "the requested scope exceeds the assertion's")
				return
			}
		}
		scope = want
	}
	tok, _ := s.issueAccess(opts, "sa:"+sa.ID, scope, true)
	resp := tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: max(int64(opts.TokenLifetime/time.Second), 1)}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}
