package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/filterstore"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// FilterStore persists the filters requests pin, so what was pushed
// survives restarts and failover without the IRR (internal/filterstore
// keeps them in PrefixLists).
type FilterStore interface {
	// Save persists f for pr; saving an unchanged filter again is free.
	Save(ctx context.Context, pr *peeringv1.PeeringRequest, f *policy.CachedFilter, sources []string) error
	// Get returns the entries of a pinned filter, from memory or the API
	// server, verified against its digest.
	Get(ctx context.Context, namespace string, request types.UID, digest string) ([]irr.Entry, error)
	// Prune deletes pr's filters whose digest is not in keep.
	Prune(ctx context.Context, pr *peeringv1.PeeringRequest, keep ...string) error
}

// PrefixListStore is the FilterStore of the manager: filterstore.Store.
type PrefixListStore struct{ *filterstore.Store }

var _ FilterStore = PrefixListStore{}

// Save persists a built filter.
func (s PrefixListStore) Save(ctx context.Context, pr *peeringv1.PeeringRequest, f *policy.CachedFilter, sources []string) error {
	return s.Store.Save(ctx, pr, filterstore.Filter{Digest: f.Summary.Digest, Family: f.Key.Family, Entries: f.Entries,
		PrefixCount: int64(f.Summary.Prefixes), EntryCount: int64(f.Summary.Entries), ASSet: f.Key.Sets, Sources: sources, Built: f.Built})
}

// Get returns a stored filter's entries.
func (s PrefixListStore) Get(ctx context.Context, namespace string, request types.UID, digest string) ([]irr.Entry, error) {
	f, err := s.Store.Get(ctx, namespace, request, digest)
	if err != nil {
		return nil, err
	}
	return f.Entries, nil
}
