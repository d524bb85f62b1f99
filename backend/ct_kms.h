/* The key ring part of the facade: KMS's calls as the tree makes them
 * (/keys), the trail's kms_key, and the end of pending deletion windows.
 * Over keyring.h (the keys) and kmspolicy.h (their policies); the records
 * of the calls go through ct.c's audit path like every other call.
 *
 * Conventions are ct.h's: 0 or -errno, err (may be NULL) with the AWS
 * error name (keyring.h's KMS names) and the failed call named in it
 * (ct_err_call) for ct_record_error; who NULL is an internal call that is
 * not recorded; a successful call with a caller is recorded here, as a KMS
 * management event (eventSource kms.amazonaws.com, the key in resources).
 *
 * Keys in the tree are named by their alias: NAME stands for alias/NAME
 * (keyring_alias_name_check's rules, no '/' in NAME).  The mount owner
 * administers keys (mode bits keep everyone else to reading), so the
 * management calls are not evaluated against key policies; a key policy
 * governs the key's use: Decrypt by local users and GenerateDataKey by
 * CloudTrail (README, "Deviations from AWS").  PutKeyPolicy still makes
 * KMS's lockout safety check for the caller.
 *
 * Thread-safe.  The calls that change a key do their durable writes on the
 * calling thread. */
#ifndef TRAILFS_CT_KMS_H
#define TRAILFS_CT_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "buf.h"
#include "ct.h"
#include "err.h"
#include "keyring.h"

#define CT_KEY_DELETION_DAYS_DEFAULT 30   /* KMS's default PendingWindowInDays */

/* ---- the engine's side (ct.c) ---- */

struct ct_kms;

/* Open the key ring in STATE/keyring for account and region, with a
 * pending window of days (0: CT_KEY_DELETION_DAYS_DEFAULT; else 7..30,
 * InvalidParameterException).  NULL with err on failure (keyring_open's). */
struct ct_kms *ct_kms_open(const char *state_dir, const char *account, const char *region,
			   unsigned days, struct ct_err *err);
void ct_kms_close(struct ct_kms *k);
/* The ring (borrowed). */
struct keyring *ct_kms_ring(struct ct_kms *k);
/* (ct.c) The engine's key ring state, borrowed. */
struct ct_kms *ct_kms_of(struct ct *ct);
/* (ct.c) Record one call made by who now (a service event with who NULL
 * when c->service_event), spooled at once; takes what c owns.  Nothing is
 * recorded for who NULL otherwise.  Call with no lock of the engine held. */
void ct_audit_call(struct ct *ct, const struct ct_caller *who, struct audit_call *c);

/* The end of pending windows, by ct_now: destroy every key whose window
 * has passed (keyring_expire) and record each destruction as KMS's
 * DeleteKey service event.  Cheap when nothing is due (no lock held long,
 * no disk).  Called by the delivery thread on every wake and before the
 * tree lists or describes keys. */
void ct_kms_tick(struct ct *ct);

/* The key a trail's kms_key names: spec is alias/NAME, an alias ARN, a
 * key ARN or a key id (validate_kms_key_id's forms).  An existing key must
 * be Enabled (else KmsException) and its policy must let CloudTrail
 * generate data keys for trail_arn (kmspolicy_allows_cloudtrail:
 * InsufficientEncryptionPolicyException, EACCES); on 0 arn gets its ARN
 * and *create is false.  An unknown alias of this account and region
 * (alias/NAME or its ARN) is a new key, as the console's "create a new
 * key" does: 0 with *create true and alias (KEYRING_ALIAS_MAX + 1 bytes)
 * set to alias/NAME; the caller makes it with ct_kms_create_for_trail once
 * its other checks have passed.  Any other unknown key:
 * KmsKeyNotFoundException. */
int ct_kms_trail_key(struct ct *ct, const char *spec, const char *trail_arn,
		     char arn[KEYRING_ARN_MAX], bool *create, char *alias, struct ct_err *err);

/* Make alias's key for the trail trail_arn: CreateKey with CloudTrail's
 * console policy (kmspolicy_for_cloudtrail: encrypt for this trail,
 * decrypt for who and the account root) and CreateAlias.  arn gets the new
 * key's ARN.  calls[0..*n) get the CreateKey and CreateAlias records for
 * the caller to add to its batch (released by audit_record or
 * audit_call_release); *n is 0 when who is NULL. */
int ct_kms_create_for_trail(struct ct *ct, const struct ct_caller *who, const char *alias,
			    const char *trail_arn, char arn[KEYRING_ARN_MAX],
			    struct audit_call calls[2], size_t *n, struct ct_err *err);

/* ---- log files: encrypted at delivery, decrypted on read ---- */

/* Seal one log file for the trail trail_arn with the key key_arn (the
 * trail's kms_key): CloudTrail's kms:GenerateDataKey must still be allowed
 * by the key's policy (kmspolicy_allows_cloudtrail), then envelope_seal
 * with the encryption context {aws:cloudtrail:arn: trail_arn}: the
 * ciphertext appended to out, the envelope's metadata to info.  0, or
 * -errno with why (size bytes) the line LatestDeliveryError shows: the KMS
 * error's name and message (InsufficientEncryptionPolicyException,
 * DisabledException, KMSInvalidStateException, NotFoundException for a
 * destroyed key).  CloudTrail's own GenerateDataKey calls are not recorded
 * (README: recording them would feed every delivery into the next). */
int ct_kms_seal(struct ct *ct, const char *key_arn, const char *trail_arn, const void *gz,
		size_t len, struct buf *out, struct store_object_info *info, char *why,
		size_t size);

/* Decrypt a stored object for who, in place: obj holds the object's bytes
 * and info its metadata (HeadObject's).  An object without an envelope is
 * left as it is (0).  Otherwise who must be allowed kms:Decrypt with the
 * envelope's encryption context by the key's policy (kmspolicy's mapping of
 * local users; who NULL is the account root): else -EACCES,
 * AccessDeniedException, and a denied Decrypt event (errorCode
 * AccessDenied, as CloudTrail records KMS's denials).  A key that is
 * disabled or pending deletion: -EACCES (DisabledException,
 * KMSInvalidStateException; the content is intact).  A damaged envelope,
 * a tampered object (the GCM tag is verified over the whole object before
 * any byte is kept) or a destroyed key: -EIO (InvalidEnvelope,
 * InvalidCiphertextException, NotFoundException), obj wiped.  On 0, obj is
 * the plaintext and a Decrypt event is recorded for who, or, when decrypt is
 * not NULL, left in *decrypt (naming the key in decrypt_arn, which must
 * live until it is recorded) for the caller to record with its own (one
 * sync for both; decrypt->name is NULL when there is none).  err always names
 * the failure, not the call (the Decrypt records are made here). */
int ct_kms_open_object(struct ct *ct, const struct ct_caller *who,
		       const struct store_object_info *info, struct buf *obj,
		       struct audit_call *decrypt, char decrypt_arn[KEYRING_ARN_MAX],
		       struct ct_err *err);

/* The plaintext length an object's envelope records, or -1 (no envelope or
 * no length). */
int64_t ct_kms_plain_len(const struct store_object_info *info);

/* ---- the tree's calls (/keys) ---- */

/* ListAliases: the NAMEs of the aliases alias/NAME (sorted; NAMEs holding
 * '/' cannot be directories and are left out); store_names_free them. */
int ct_kms_list(struct ct *ct, const struct ct_caller *who, char ***names, size_t *n);
/* Does alias/NAME exist (its key in any state)?  Not recorded. */
bool ct_kms_exists(struct ct *ct, const char *name);
/* CreateKey (KMS's default key policy) + CreateAlias alias/NAME. */
int ct_kms_create(struct ct *ct, const struct ct_caller *who, const char *name,
		  struct ct_err *err);
/* ScheduleKeyDeletion with the mount's pending window (rmdir). */
int ct_kms_schedule_deletion(struct ct *ct, const struct ct_caller *who, const char *name,
			     struct ct_err *err);
/* DescribeKey. */
int ct_kms_describe(struct ct *ct, const struct ct_caller *who, const char *name,
		    struct keyring_key_info *info, struct ct_err *err);
/* GetKeyPolicy: the document appended to out. */
int ct_kms_get_policy(struct ct *ct, const struct ct_caller *who, const char *name,
		      struct buf *out, struct ct_err *err);
/* PutKeyPolicy (kmspolicy_validate, the principals' users must exist
 * locally, the lockout safety check for who).  CT_DRY_RUN checks only. */
int ct_kms_put_policy(struct ct *ct, const struct ct_caller *who, const char *name,
		      const char *doc, size_t len, unsigned flags, struct ct_err *err);
/* The state file's write: enabled true is EnableKey; false is DisableKey,
 * or CancelKeyDeletion (leaving the key Disabled) when it is pending
 * deletion.  CT_DRY_RUN checks only. */
int ct_kms_set_enabled(struct ct *ct, const struct ct_caller *who, const char *name,
		       bool enabled, unsigned flags, struct ct_err *err);

#endif
