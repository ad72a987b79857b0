package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig configures sign-in through an OpenID Connect provider.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; empty means Google.
	Issuer       string
	ClientID     string
	ClientSecret string
	// AdminEmails get the admin role when they sign in for the first time.
	AdminEmails []string
}

// Enabled reports whether a client id is configured.
func (c *OIDCConfig) Enabled() bool { return c != nil && c.ClientID != "" }

// oidcState is what the browser's session keeps between the redirect to
// the provider and the callback.
const (
	oidcStateKey    = "oidc_state"
	oidcNonceKey    = "oidc_nonce"
	oidcVerifierKey = "oidc_verifier"
	oidcReturnKey   = "oidc_return"
	oidcStartedKey  = "oidc_started"
	// oidcStateTTL bounds how long a sign-in may take at the provider.
	oidcStateTTL = 10 * time.Minute
)

// oidcClient discovers the provider lazily, on first use, and again after
// a failure, so a server starts even when the provider is unreachable.
type oidcClient struct {
	cfg         OIDCConfig
	redirectURL string

	mu       sync.Mutex
	provider *oidc.Provider
}

func (c *oidcClient) setup(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider == nil {
		issuer := c.cfg.Issuer
		if issuer == "" {
			issuer = "https://accounts.google.com"
		}
		p, err := oidc.NewProvider(ctx, issuer)
		if err != nil {
			return nil, nil, err
		}
		c.provider = p
	}
	oc := &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		Endpoint:     c.provider.Endpoint(),
		RedirectURL:  c.redirectURL,
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
	return oc, c.provider.Verifier(&oidc.Config{ClientID: c.cfg.ClientID}), nil
}

func randomString() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// oidcLogin sends the browser to the provider with a fresh state, nonce
// and PKCE challenge, all bound to its session.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	oc, _, err := s.oidc.setup(r.Context())
	if err != nil {
		s.logger.Error("oidc discovery", "err", err)
		http.Error(w, "the sign-in provider cannot be reached; try again later", http.StatusBadGateway)
		return
	}
	ctx := r.Context()
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	s.sessions.Put(ctx, oidcStateKey, state)
	s.sessions.Put(ctx, oidcNonceKey, nonce)
	s.sessions.Put(ctx, oidcVerifierKey, verifier)
	s.sessions.Put(ctx, oidcReturnKey, localPath(r.URL.Query().Get("return")))
	s.sessions.Put(ctx, oidcStartedKey, time.Now().Unix())
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// oidcCallback finishes sign-in: the state must be the one this browser's
// session holds, unused and recent; the code is exchanged with the PKCE
// verifier; the ID token's signature, audience and nonce are checked.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Pop: a state works once, whatever happens next.
	want := s.sessions.PopString(ctx, oidcStateKey)
	nonce := s.sessions.PopString(ctx, oidcNonceKey)
	verifier := s.sessions.PopString(ctx, oidcVerifierKey)
	ret := s.sessions.PopString(ctx, oidcReturnKey)
	started, _ := s.sessions.Pop(ctx, oidcStartedKey).(int64)

	q := r.URL.Query()
	got := q.Get("state")
	switch {
	case q.Get("error") != "":
		s.oidcFail(w, "the provider refused the sign-in: "+q.Get("error"))
		return
	case want == "" || got == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1:
		s.oidcFail(w, "the sign-in state does not match this browser's; start again")
		return
	case time.Since(time.Unix(started, 0)) > oidcStateTTL:
		s.oidcFail(w, "the sign-in took too long; start again")
		return
	}
	oc, verifierFn, err := s.oidc.setup(ctx)
	if err != nil {
		s.logger.Error("oidc discovery", "err", err)
		http.Error(w, "the sign-in provider cannot be reached; try again later", http.StatusBadGateway)
		return
	}
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		s.logger.Warn("oidc exchange", "err", err)
		s.oidcFail(w, "the sign-in code was not accepted; start again")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifierFn.Verify(ctx, raw)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		err = errors.New("nonce does not match the one this browser's session holds")
	}
	if err != nil {
		s.logger.Warn("oidc id token", "err", err)
		s.oidcFail(w, "the sign-in provider's answer could not be verified")
		return
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email == "" {
		s.oidcFail(w, "the provider did not share an email address")
		return
	}
	// An email the provider does not vouch for could be anyone's, an admin
	// email included: email_verified must be present and true.
	if claims.EmailVerified == nil || !*claims.EmailVerified {
		s.oidcFail(w, "the email address is not verified at the provider")
		return
	}
	u, err := s.users.SignInOIDC(ctx, claims.Email, claims.Name, s.isAdminEmail(claims.Email))
	if err != nil {
		s.logger.Warn("oidc sign in", "email", claims.Email, "err", err)
		s.oidcFail(w, "this account cannot sign in")
		return
	}
	if err := s.signIn(ctx, u.ID); err != nil {
		s.logger.Error("sign in", "err", err)
		http.Error(w, "could not start a session", http.StatusInternalServerError)
		return
	}
	if ret == "" {
		ret = "/"
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

func (s *Server) oidcFail(w http.ResponseWriter, msg string) {
	http.Error(w, msg, http.StatusBadRequest)
}

func (s *Server) isAdminEmail(email string) bool {
	for _, a := range s.oidc.cfg.AdminEmails {
		if strings.EqualFold(strings.TrimSpace(a), email) {
			return true
		}
	}
	return false
}

// oidcRedirectURL is where the provider sends the browser back.
func oidcRedirectURL(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", errors.New("public URL must be absolute, like https://graph.example.com")
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/auth/oidc/callback"
	return u.String(), nil
}
