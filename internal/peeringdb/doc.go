// Package peeringdb is the operator's PeeringDB API v2 client and its local
// cache.
//
// Why our own client and not github.com/gmazoyer/peeringdb: that library
// decodes JSON null into plain integers, so a network whose info_prefixes4
// is null ("unknown") looks exactly like one that announces zero prefixes,
// and the max-prefix formula would then configure a limit of 0. Here every
// nullable number is a pointer (nil = unknown) and every nullable address
// is a netip.Addr (zero = absent). It also has no shared rate limiter, no
// Retry-After handling and no incremental (since) sync, which the operator
// needs to stay under PeeringDB's 20 (anonymous) / 40 (API key) requests
// per minute.
//
// The Client does one thing: typed, rate-limited, retried list calls. The
// Cache bulk-loads what the operator needs (an IX, its LANs and prefixes,
// every netixlan of the IX in one query, the networks in asn__in batches),
// refreshes it incrementally with since, persists it to a file, and keeps
// serving the last good data when PeeringDB is down. Validation code reads
// the Cache only; it never goes to the network.
package peeringdb
