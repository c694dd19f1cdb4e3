package peeringapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls a peer's Peering API.
type Client struct {
	// BaseURL is the peer's API root, e.g. https://peering.example.net/v0.1.
	BaseURL string
	// Token is the bearer token (never logged, never in errors).
	Token string
	// HTTP is the client to use; nil is http.DefaultClient.
	HTTP *http.Client
}

// RemoteError is a refusal from the peer, in the draft's error shape.
type RemoteError struct {
	Status int
	Errors []FieldError
}

func (e *RemoteError) Error() string {
	var parts []string
	for _, f := range e.Errors {
		parts = append(parts, f.Name+": "+strings.Join(f.Errors, "; "))
	}
	if len(parts) == 0 {
		parts = append(parts, "no error details")
	}
	return fmt.Sprintf("the peer's Peering API answered %d %s: %s", e.Status, http.StatusText(e.Status), strings.Join(parts, "; "))
}

// maxResponseBytes bounds what is read from a peer.
const maxResponseBytes = 4 << 20

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u, err := url.Parse(strings.TrimRight(c.BaseURL, "/") + path)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("the peer's Peering API URL %q is not an https URL (e.g. https://peering.example.net/v0.1)", c.BaseURL)
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("failed to reach the peer's Peering API at %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("failed to read the answer of %s: %w", u.Host, err)
	}
	if resp.StatusCode >= 300 {
		re := &RemoteError{Status: resp.StatusCode}
		var er ErrorResponse
		if json.Unmarshal(data, &er) == nil {
			re.Errors = er.Errors
		}
		return re
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer of %s is not what the Peering API specifies: %v", u.Host, err)
	}
	return nil
}

// Locations lists the peer's locations.
func (c *Client) Locations(ctx context.Context, asn int64) ([]Location, error) {
	var out []Location
	token := ""
	for {
		q := url.Values{"asn": {strconv.FormatInt(asn, 10)}}
		if token != "" {
			q.Set("next_token", token)
		}
		var page ListLocationsResponse
		if err := c.do(ctx, http.MethodGet, "/locations", q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Locations...)
		if page.NextToken == "" || page.NextToken == token {
			return out, nil
		}
		token = page.NextToken
	}
}

// CreateSessions requests sessions (POST /sessions).
func (c *Client) CreateSessions(ctx context.Context, sessions []Session) (*SessionArray, error) {
	var out SessionArray
	if err := c.do(ctx, http.MethodPost, "/sessions", nil, SessionArray{Sessions: sessions}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSessions lists the sessions for asn, of one request when requestID
// is set, every page.
func (c *Client) ListSessions(ctx context.Context, asn int64, requestID string) ([]Session, error) {
	var out []Session
	token := ""
	for {
		q := url.Values{"asn": {strconv.FormatInt(asn, 10)}}
		if requestID != "" {
			q.Set("request_id", requestID)
		}
		if token != "" {
			q.Set("next_token", token)
		}
		var page ListSessionsResponse
		if err := c.do(ctx, http.MethodGet, "/sessions", q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Sessions...)
		if page.NextToken == "" || page.NextToken == token {
			return out, nil
		}
		token = page.NextToken
	}
}

// GetSession reads one session.
func (c *Client) GetSession(ctx context.Context, id string) (*Session, error) {
	var out Session
	if err := c.do(ctx, http.MethodGet, "/sessions/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSession withdraws one session.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/sessions/"+url.PathEscape(id), nil, nil, nil)
}
