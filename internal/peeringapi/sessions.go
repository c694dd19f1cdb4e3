package peeringapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// createSessions (POST /sessions) creates one PeeringRequest per session,
// all or none. The requests wait for the NOC's approval (or the IXPort's
// auto-approval policy) like any other; nothing here approves.
func (s *Server) createSessions(ctx context.Context, c *Caller, w http.ResponseWriter, r *http.Request) *apiError {
	arr, e := s.decodeSessions(w, r)
	if e != nil {
		return e
	}
	ports, err := s.ports(ctx)
	if err != nil {
		return refuse(http.StatusInternalServerError, "request", "our locations could not be read; retry later")
	}
	sessions, e := checkSessions(c, arr.Sessions, ports)
	if e != nil {
		return e
	}
	if len(c.Subject) > 256 || len(c.Issuer) > 256 {
		return refuse(http.StatusBadRequest, "authorization", "the token's sub or iss is longer than 256 characters")
	}
	if e := s.checkPending(ctx, sessions); e != nil {
		return e
	}
	reqID := uuid.NewString()
	var created []*peeringv1.PeeringRequest
	out := SessionArray{RequestID: reqID}
	for i, cs := range sessions {
		pr := &peeringv1.PeeringRequest{
			ObjectMeta: metav1.ObjectMeta{Name: requestName(cs.s.LocalASN, cs.port.name, cs.addr), Namespace: s.opts.Namespace,
				Labels: map[string]string{LabelRequestID: reqID}},
			Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(cs.s.LocalASN),
				IXPortRef:   peeringv1.LocalObjectReference{Name: cs.port.name},
				Addresses:   []string{cs.addr.String()},
				Description: fmt.Sprintf("AS%d via Peering API", cs.s.LocalASN),
				Requester: &peeringv1.UserInfo{PeeringAPI: &peeringv1.PeeringAPIRequester{
					ASN: peeringv1.ASN(cs.s.LocalASN), Subject: c.Subject, Issuer: c.Issuer, RequestID: reqID}}},
		}
		err := s.opts.Client.Create(ctx, pr)
		if apierrors.IsAlreadyExists(err) {
			// Asked before: the same session, answered as it stands.
			old := &peeringv1.PeeringRequest{}
			if gerr := s.opts.Client.Get(ctx, client.ObjectKeyFromObject(pr), old); gerr == nil && int64(old.Spec.PeerASN) == cs.s.LocalASN {
				out.Sessions = append(out.Sessions, sessionsOf(old, cs.port)...)
				continue
			}
		}
		if err != nil {
			s.rollback(ctx, created)
			if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) {
				return refuse(http.StatusUnprocessableEntity, fmt.Sprintf("sessions[%d]", i), "refused by our validation, nothing was created: %s", apiMessage(err))
			}
			s.opts.Log.Error(err, "failed to create a PeeringRequest for a Peering API request", "name", pr.Name, "asn", cs.s.LocalASN)
			return refuse(http.StatusInternalServerError, "request", "the request could not be stored, nothing was created; retry later")
		}
		created = append(created, pr)
		out.Sessions = append(out.Sessions, sessionsOf(pr, cs.port)...)
	}
	s.opts.Log.Info("Peering API request", "requestID", reqID, "asn", sessions[0].s.LocalASN, "subject", c.Subject, "sessions", len(out.Sessions), "created", len(created))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkPending refuses a request that would leave an ASN with more than
// MaxPendingPerASN undecided requests made through the API.
func (s *Server) checkPending(ctx context.Context, sessions []checked) *apiError {
	var list peeringv1.PeeringRequestList
	if err := s.opts.Client.List(ctx, &list, client.InNamespace(s.opts.Namespace)); err != nil {
		return refuse(http.StatusInternalServerError, "request", "sessions could not be read; retry later")
	}
	pending := map[int64]int{}
	exists := map[string]bool{}
	for _, pr := range list.Items {
		exists[pr.Name] = true
		if s.madeHere(&pr) && !decided(&pr) {
			pending[int64(pr.Spec.Requester.PeeringAPI.ASN)]++
		}
	}
	for _, cs := range sessions {
		if !exists[requestName(cs.s.LocalASN, cs.port.name, cs.addr)] {
			pending[cs.s.LocalASN]++
		}
		if n := pending[cs.s.LocalASN]; n > s.opts.MaxPendingPerASN {
			return refuse(http.StatusTooManyRequests, "sessions", "AS%d would have %d requests waiting for our decision, more than %d: wait for them to be decided, or withdraw some",
				cs.s.LocalASN, n, s.opts.MaxPendingPerASN)
		}
	}
	return nil
}

// decided: approved or denied.
func decided(pr *peeringv1.PeeringRequest) bool {
	return meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestApproved) ||
		meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestDenied)
}

// rollback deletes what one POST created before a later session failed.
func (s *Server) rollback(ctx context.Context, created []*peeringv1.PeeringRequest) {
	for _, pr := range created {
		if err := s.opts.Client.Delete(ctx, pr, client.Preconditions{UID: &pr.UID}); err != nil && !apierrors.IsNotFound(err) {
			s.opts.Log.Error(err, "failed to roll back a PeeringRequest of a refused Peering API request", "name", pr.Name)
		}
	}
}

// apiMessage is the API server's refusal without the object's name.
func apiMessage(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok {
		if d := st.Status().Details; d != nil && len(d.Causes) > 0 {
			var parts []string
			for _, c := range d.Causes {
				parts = append(parts, strings.TrimSpace(c.Field+" "+c.Message))
			}
			return strings.Join(parts, "; ")
		}
		return st.Status().Message
	}
	return err.Error()
}

// requestsOf lists the requests in our namespace for asn.
func (s *Server) requestsOf(ctx context.Context, asn int64) ([]peeringv1.PeeringRequest, error) {
	var list peeringv1.PeeringRequestList
	if err := s.opts.Client.List(ctx, &list, client.InNamespace(s.opts.Namespace)); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(list.Items, func(pr peeringv1.PeeringRequest) bool { return int64(pr.Spec.PeerASN) != asn })
	slices.SortFunc(out, func(a, b peeringv1.PeeringRequest) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// listSessions (GET /sessions?asn=&request_id=&max_results=&next_token=)
// lists the sessions between the caller's ASN and us, made through the API
// or not.
func (s *Server) listSessions(ctx context.Context, c *Caller, w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	asn, e := asnParam(q, c)
	if e != nil {
		return e
	}
	offset, limit, e := page(q)
	if e != nil {
		return e
	}
	reqID := q.Get("request_id")
	prs, err := s.requestsOf(ctx, asn)
	if err != nil {
		return refuse(http.StatusInternalServerError, "request", "sessions could not be read; retry later")
	}
	ports, err := s.ports(ctx)
	if err != nil {
		return refuse(http.StatusInternalServerError, "request", "our locations could not be read; retry later")
	}
	var all []Session
	for i := range prs {
		pr := &prs[i]
		if reqID != "" && (pr.Spec.Requester == nil || pr.Spec.Requester.PeeringAPI == nil || pr.Spec.Requester.PeeringAPI.RequestID != reqID) {
			continue
		}
		p, _ := portNamed(ports, pr.Spec.IXPortRef.Name)
		all = append(all, sessionsOf(pr, p)...)
	}
	resp := ListSessionsResponse{Sessions: []Session{}}
	if offset < len(all) {
		end := min(offset+limit, len(all))
		resp.Sessions = all[offset:end]
		if end < len(all) {
			resp.NextToken = strconv.Itoa(end)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// findSession resolves a session id to its request and address; the caller
// must be allowed to read the request's ASN, else it does not exist for it.
func (s *Server) findSession(ctx context.Context, c *Caller, id string) (*peeringv1.PeeringRequest, Session, *apiError) {
	uid, addr, _ := strings.Cut(id, "@")
	if len(id) > 128 || uuid.Validate(uid) != nil {
		return nil, Session{}, refuse(http.StatusBadRequest, "session_id", "not a session id this server gave out")
	}
	var list peeringv1.PeeringRequestList
	if err := s.opts.Client.List(ctx, &list, client.InNamespace(s.opts.Namespace)); err != nil {
		return nil, Session{}, refuse(http.StatusInternalServerError, "request", "sessions could not be read; retry later")
	}
	notFound := refuse(http.StatusNotFound, "session_id", "no session %s is visible to your token", id)
	i := slices.IndexFunc(list.Items, func(pr peeringv1.PeeringRequest) bool { return pr.UID == types.UID(uid) })
	if i < 0 || !c.MayRead(int64(list.Items[i].Spec.PeerASN)) {
		return nil, Session{}, notFound
	}
	pr := &list.Items[i]
	ports, err := s.ports(ctx)
	if err != nil {
		return nil, Session{}, refuse(http.StatusInternalServerError, "request", "our locations could not be read; retry later")
	}
	p, _ := portNamed(ports, pr.Spec.IXPortRef.Name)
	for _, ss := range sessionsOf(pr, p) {
		if ss.SessionID == id || (addr == "" && ss.SessionID == uid) {
			return pr, ss, nil
		}
	}
	return nil, Session{}, notFound
}

// getSession (GET /sessions/{session_id}).
func (s *Server) getSession(ctx context.Context, c *Caller, w http.ResponseWriter, id string) *apiError {
	_, ss, e := s.findSession(ctx, c, id)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, ss)
	return nil
}

// deleteSession (DELETE /sessions/{session_id}) withdraws a request made
// through the API: an ordinary delete, so the finalizer removes its
// neighbor from the router, and only its own. Requests our NOC made are
// not the caller's to delete.
func (s *Server) deleteSession(ctx context.Context, c *Caller, w http.ResponseWriter, id string) *apiError {
	pr, _, e := s.findSession(ctx, c, id)
	if e != nil {
		return e
	}
	if !c.MayWrite(int64(pr.Spec.PeerASN)) {
		return refuse(http.StatusForbidden, "session_id", "your token may read but not withdraw sessions of AS%d", pr.Spec.PeerASN)
	}
	if !s.madeHere(pr) || len(addresses(pr)) != 1 {
		return refuse(http.StatusForbidden, "session_id", "session %s was set up by our NOC, not through this API: ask them to remove it", id)
	}
	if err := s.opts.Client.Delete(ctx, pr, client.Preconditions{UID: &pr.UID}); err != nil && !apierrors.IsNotFound(err) {
		s.opts.Log.Error(err, "failed to delete a PeeringRequest for a Peering API withdrawal", "name", pr.Name)
		return refuse(http.StatusInternalServerError, "request", "the session could not be withdrawn; retry later")
	}
	s.opts.Log.Info("Peering API withdrawal", "name", pr.Name, "asn", pr.Spec.PeerASN, "subject", c.Subject)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// madeHere: the request was created through this API, by this server's
// own user (when it is known).
func (s *Server) madeHere(pr *peeringv1.PeeringRequest) bool {
	r := pr.Spec.Requester
	return r != nil && r.PeeringAPI != nil && (s.opts.Self == "" || r.Username == s.opts.Self)
}

// asnParam reads the required asn parameter: an ASN the token covers.
func asnParam(q url.Values, c *Caller) (int64, *apiError) {
	asn, err := strconv.ParseInt(q.Get("asn"), 10, 64)
	if err != nil || asn < 1 || asn > 4294967295 {
		return 0, refuse(http.StatusBadRequest, "asn", "give your ASN as ?asn=<number>")
	}
	if !c.MayRead(asn) {
		return 0, refuse(http.StatusForbidden, "asn", "your token does not cover AS%d (it names %v)", asn, c.ASNs())
	}
	return asn, nil
}

// page reads max_results (0..100, 0 is the server's page size) and
// next_token (an offset this server gave out).
func page(q url.Values) (offset, limit int, e *apiError) {
	limit = defaultPageSize
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPageSize {
			return 0, 0, refuse(http.StatusBadRequest, "max_results", "must be 0..%d", maxPageSize)
		}
		if n > 0 {
			limit = n
		}
	}
	if v := q.Get("next_token"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || len(v) > 10 {
			return 0, 0, refuse(http.StatusBadRequest, "next_token", "not a token this server gave out")
		}
		offset = n
	}
	return offset, limit, nil
}
