/* Digest chains: which digests a trail's regions get, when, and what they
 * list (the reference, 3.1), written exactly once across crashes.
 *
 * A chain belongs to one trail and one region while that trail logs with
 * log file validation on.  It is a run of windows [start, end), each
 * digest_interval seconds long, end to start: a digest for every window,
 * empty ones included, each linking to the one before; the first digest of
 * a chain has null links.  A chain ends, with a final digest covering the
 * rest of its window up to that moment, when the trail stops logging,
 * turns validation off, is deleted, changes its bucket or prefix (the next
 * chain starts, with null links, in the new location), or stops covering
 * the region (multi-region off).  A chain that is more than
 * CHAINS_CATCHUP_MAX windows behind (the daemon was down, or a test clock
 * jumped) gets one long digest for the time it missed and then one per
 * window.  A final digest that would list no files is not written when
 * its window has no time, or when the chain has no digest yet (a trail
 * stopped or deleted before its first window closed, with nothing
 * delivered): there is nothing to attest, and the chain just ends.
 *
 * Files:
 *   STATE/digests.json     the chains, digests written but not yet stored,
 *                          and each trail's digest status (rewritten only
 *                          when a window closes or a chain starts or ends)
 *   STATE/digests.journal  append-only: one line per log file delivered to
 *                          a running chain (its window is decided when the
 *                          window closes, by the file's delivery time), so
 *                          a delivery costs one append and one fdatasync,
 *                          not a rewrite of a growing list
 *
 * Exactly once: a digest is built, hashed and signed, then recorded in
 * digests.json with its exact bytes and signature, together with the
 * chain's new state (next window, link to this digest, the journal entries
 * it consumed), in one durable write; then it is stored; then it is
 * dropped from digests.json.  A crash before that write leaves nothing
 * changed (the window is built again, from the same journal); after it,
 * the recorded bytes are stored again at open, so one window never gets
 * two different digests and the signing key need not exist any more at the
 * redo.  A log file is in the journal before its delivery's cursors move
 * (delivery_observer_fn), a redone delivery is the same file again, and
 * each chain consumes its journal in order: every delivered file of a
 * running chain ends up in exactly one digest.
 *
 * All functions are thread-safe and return 0 or a negative errno, err
 * (when not NULL) saying why. */
#ifndef TRAILFS_CHAINS_H
#define TRAILFS_CHAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver.h"
#include "err.h"
#include "sign.h"
#include "store.h"

#define CHAINS_FORMAT        1
#define CHAINS_CATCHUP_MAX   24                   /* windows written one by one after a gap */
#define CHAINS_STATE_MAX     (512u * 1024 * 1024) /* digests.json, digests' bodies included */
#define CHAINS_JOURNAL_MAX   (512u * 1024 * 1024)
#define CHAINS_ERROR_MAX     512

/* A trail and region that should have a running chain now, and where its
 * digests go.  All borrowed. */
struct chain_want {
	const char *trail;
	const char *region;
	const char *bucket;
	const char *prefix;       /* "" = none */
	const char *account;
	const char *home_region;
};

struct chains;

/* Load the chains from state_dir (missing files: none yet), store again the
 * digests a crash left recorded but perhaps unstored, and read the journal
 * (a torn last line is dropped).  interval: seconds per window (>= 1).
 * store and sign are borrowed and must outlive the chains.  NULL with err
 * filled on failure (InvalidStateFile for a damaged file, its path named). */
struct chains *chains_open(const char *state_dir, struct store *store, struct sign *sign,
			   unsigned interval, struct ct_err *err);
void chains_close(struct chains *c);

/* The delivery observer (delivery_observer_fn, ctx the struct chains):
 * journal each file of logs whose trail and region has a running chain,
 * and take back any of gone that is journaled; one append and one
 * fdatasync.  Files of trails or regions without a running chain (logging
 * or validation off) are not journaled: no digest lists them. */
int chains_delivered(void *ctx, int64_t time, const struct delivery_log *logs, size_t n,
		     const struct delivery_log *gone, size_t n_gone);

/* Bring the chains in line with want[0..n) at time now: end (with a final
 * digest) every running chain not wanted, or wanted elsewhere; start every
 * wanted one that is not running (its first window starts at now, or at the
 * end of the last digest of that trail and region if that is later); write
 * the digest of every window that has ended; and store again digests whose
 * storing failed before.  Keys are made only when a digest needs one (a
 * region that never signs costs nothing), and never under the chains'
 * lock.  With make_keys true they are made first, on the caller's thread;
 * with make_keys false a digest of a region not known to have a key (made
 * by such a call, or used for a digest since open) is left for a later
 * call (*deferred set true, when deferred is not NULL), so that no key is
 * made, or waited for, on the caller's thread.
 * A digest that cannot be stored stays recorded and is retried by each
 * call; its trail's LatestDigestDeliveryError says why.  0 or -errno (the
 * state could not be written: nothing was stored).  The caller must not
 * run it while a delivery run is between telling its files
 * (chains_delivered) and moving its cursors: a crash there redoes the run,
 * which tells the same files again, and they must not already be in a
 * digest (ct.c holds one lock across both). */
int chains_sync(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
		bool make_keys, bool *deferred, struct ct_err *err);

/* The keys chains_sync(make_keys) makes first, on their own: for each
 * region that will sign a digest at now and has no key yet, one is made,
 * without the chains' lock.  0 or -errno. */
int chains_prepare_keys(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
			struct ct_err *err);

/* The first half of chains_sync, for a caller that must be quick (a FUSE
 * callback): end and start chains as want[0..n) says at now, and write no
 * digest and no file.  The change is made durable with the next digest
 * recorded, before the first delivered file is journaled for a chain it
 * started, or at chains_close; a crash before that only makes the chain
 * start (or end) at the next start-up instead, with no file lost.  An ended chain's
 * final digest covers its window up to now whenever it is written.
 * *finals (when not NULL) says whether an ended chain has a final digest
 * to write (one with files or with digests before it).  0 or -errno. */
int chains_record(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
		  bool *finals, struct ct_err *err);

/* GetTrailStatus's digest members for trail: *time 0 = never, error "" =
 * none. */
void chains_status(struct chains *c, const char *trail, int64_t *time, char *error, size_t size);

/* A trail is gone and its chains have ended (chains_sync without it):
 * forget its status and the ends of its digests.  0 or -errno. */
int chains_forget(struct chains *c, const char *trail, struct ct_err *err);

/* Whether trail has a running chain in region (for tests and views). */
bool chains_running(struct chains *c, const char *trail, const char *region);

#endif
