package controllers

import (
	"fmt"
	"strings"
	"time"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// drainSource is one spec.drain a session falls under: its request's, its
// IXPort's or its Router's, with the webhook's drain-since stamp.
type drainSource struct {
	// What names the source in messages, e.g. "IXPort decix-fra".
	What  string
	Drain *peeringv1.Drain
	Since string
}

// drainState is what the drains a session falls under ask of it at now.
type drainState struct {
	// Drain: GRACEFUL_SHUTDOWN out, local preference 0 in.
	Drain bool
	// Down: one of the drains is due, the sessions are shut down.
	Down bool
	// Wait is the time left until the next shutdown is due (0: none
	// pending).
	Wait time.Duration
	// Note says where each drain stands ("" without any).
	Note string
}

// drainSources are the drains over a request's sessions: its own, its
// IXPort's and its Router's (either may be nil). A route server's clients
// are never drained by the Router (its spec.drain is refused there).
func drainSources(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router) []drainSource {
	var out []drainSource
	add := func(what string, d *peeringv1.Drain, ann map[string]string) {
		if d != nil {
			out = append(out, drainSource{What: what, Drain: d, Since: ann[peeringv1.AnnotationDrainSince]})
		}
	}
	add("spec.drain", pr.Spec.Drain, pr.Annotations)
	if port != nil {
		add("spec.drain of IXPort "+port.Name, port.Spec.Drain, port.Annotations)
	}
	if rt != nil && !rt.Spec.RouteServer {
		add("spec.drain of Router "+rt.Name, rt.Spec.Drain, rt.Annotations)
	}
	return out
}

// drainOf says what the drains over a request's sessions ask at now: any
// drain drains them, and they are shut down once any one's shutdownAfter
// has passed since its webhook stamp. A missing or unreadable stamp counts
// from now: a shutdown never comes early.
func drainOf(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router, now time.Time) drainState {
	var st drainState
	var notes []string
	for _, s := range drainSources(pr, port, rt) {
		st.Drain = true
		after := peeringv1.DefaultDrainShutdownAfter
		if s.Drain.ShutdownAfter != nil {
			after = s.Drain.ShutdownAfter.Duration
		}
		since, err := time.Parse(time.RFC3339, s.Since)
		if err != nil {
			since = now
		}
		left, from := since.Add(after).Sub(now), since.UTC().Format(time.RFC3339)
		switch {
		case after <= 0:
			notes = append(notes, fmt.Sprintf("%s: drained since %s (%s), kept up", s.What, from, drainEffect))
		case left > 0:
			if st.Wait == 0 || left < st.Wait {
				st.Wait = left
			}
			notes = append(notes, fmt.Sprintf("%s: draining since %s (%s); shutdown at %s", s.What, from, drainEffect, now.Add(left).UTC().Format(time.RFC3339)))
		default:
			st.Down = true
			notes = append(notes, fmt.Sprintf("%s: drained since %s, then administratively shut down", s.What, from))
		}
	}
	if st.Down {
		st.Wait = 0
	}
	st.Note = strings.Join(notes, "; ")
	return st
}

// drainEffect says what a drain does to a session.
const drainEffect = "GRACEFUL_SHUTDOWN on what we announce, local preference 0 on what we accept"

// undrainHint says how to end the drains over a request's sessions.
func undrainHint(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router) string {
	var cmds []string
	for _, s := range drainSources(pr, port, rt) {
		switch {
		case s.What == "spec.drain":
			cmds = append(cmds, "kubectl peering undrain "+pr.Name)
		case port != nil && s.Drain == port.Spec.Drain:
			cmds = append(cmds, "kubectl peering undrain ixport/"+port.Name)
		default:
			cmds = append(cmds, "kubectl peering undrain router/"+rt.Name)
		}
	}
	return strings.Join(cmds, " and ") + " brings them back"
}
