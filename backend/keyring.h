/* The key ring: a KMS-like store of symmetric keys (AES-256) in a state
 * directory, for envelope encryption of log files.
 *
 * State layout (DIR mode 0700; every file 0600):
 *   DIR/keyring.json       the index, the truth:
 *                          {"format":1,"keys":[{"KeyId":ID,"CreationDate":T,
 *                           "KeyState":"Enabled"|"Disabled"|"PendingDeletion",
 *                           "DeletionDate":T or 0}, ...],
 *                           "aliases":[{"AliasName":"alias/NAME","TargetKeyId":ID}, ...]}
 *   DIR/ID.key             the key material: exactly 32 raw bytes
 *   DIR/ID.policy.json     the key policy, as given to PutKeyPolicy
 * Every change is a durable write (temp + fsync + rename + directory fsync).
 * A new key's material and policy are written before the index names it; a
 * destroyed key leaves the index before its files go.  Files no index entry
 * names are leftovers of such an interrupted step and are removed when the
 * ring opens (material overwritten first).  An index that does not parse,
 * has another format number, or names a key whose material is missing or
 * not 32 bytes is a damaged ring: keyring_open fails with InvalidStateFile
 * naming the path, and changes nothing.
 *
 * Key material is read once, when the ring opens, and held in memory until
 * keyring_close (wiped then, and when a key is destroyed); GenerateDataKey,
 * Decrypt and the policy checks touch no disk.  Changes (create, alias,
 * state, policy, deletion) do their durable writes under the ring's lock:
 * call them from a thread that may block on disk.  No function ever puts key
 * material in a message.  A struct keyring is thread-safe.
 *
 * Keys are named (the key_spec arguments) as KMS's KeyId parameter allows:
 * a key id, a key ARN arn:aws:kms:REGION:ACCOUNT:key/ID, an alias
 * "alias/NAME" or an alias ARN arn:aws:kms:REGION:ACCOUNT:alias/NAME, in the
 * ring's own region and account.  An unknown or malformed name is
 * NotFoundException (ENOENT).
 *
 * Errors (struct ct_err, KMS's names as in botocore's kms service-2.json,
 * errno from ct_errno_for):
 *   NotFoundException (ENOENT)         no such key or alias
 *   AlreadyExistsException (EEXIST)    CreateAlias of a name in use
 *   InvalidAliasNameException (EINVAL) a bad alias name, or alias/aws/...
 *   DisabledException (EINVAL)         GenerateDataKey/Decrypt of a Disabled key
 *   KMSInvalidStateException (EINVAL)  the key's state forbids the call
 *                                      (pending deletion, for one)
 *   ValidationException (EINVAL)       PendingWindowInDays outside 7..30
 *   InvalidCiphertextException (EINVAL) Decrypt: the blob is malformed, or
 *                                      its tag fails (tampered, or another
 *                                      encryption context)
 *   MalformedPolicyDocumentException (EINVAL)  see kmspolicy_validate
 *   AccessDeniedException (EACCES)     keyring_authorize: the policy refuses
 *   LimitExceededException (EINVAL)    KEYRING_KEYS_MAX / KEYRING_ALIASES_MAX
 *   InvalidStateFile (EINVAL)          a damaged ring, path named
 *   InternalFailure (the errno)        disk or memory failures
 *
 * What to record for each call (KMS management events: eventSource
 * kms.amazonaws.com, the key's ARN in resources as {"accountId", "type":
 * "AWS::KMS::Key", "ARN"}).  The shapes of Decrypt, Encrypt and DeleteKey
 * are from the KMS Developer Guide's CloudTrail examples (ct-*.md); the
 * others follow the API's request members in lower camel case:
 *   CreateKey      request {keyUsage:"ENCRYPT_DECRYPT", keySpec:"SYMMETRIC_DEFAULT",
 *                  origin:"AWS_KMS"}; response {keyMetadata:{keyId, arn,
 *                  creationDate, enabled, keyState, ...}}
 *   CreateAlias    request {aliasName, targetKeyId}; response null
 *   PutKeyPolicy   request {keyId, policyName:"default", policy}; response null
 *   EnableKey, DisableKey   request {keyId}; response null
 *   ScheduleKeyDeletion  request {keyId, pendingWindowInDays}; response
 *                  {keyId: ARN, deletionDate, keyState:"PendingDeletion",
 *                  pendingWindowInDays}
 *   CancelKeyDeletion    request {keyId}; response {keyId: ARN}
 *   DeleteKey      at the end of the window (keyring_expire): userIdentity
 *                  {accountId, invokedBy:"AWS Internal"}, sourceIPAddress and
 *                  userAgent "AWS Internal", requestParameters null,
 *                  responseElements {keyId: ARN}, eventType AwsServiceEvent
 *   GenerateDataKey  request {keyId, keySpec:"AES_256", encryptionContext};
 *                  response null (no key material, ever)
 *   Decrypt        request {encryptionAlgorithm:"SYMMETRIC_DEFAULT", keyId: ARN,
 *                  encryptionContext}; response null; readOnly true
 *   denials: errorCode "AccessDenied" with keyring_authorize's message. */
#ifndef TRAILFS_KEYRING_H
#define TRAILFS_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "kmspolicy.h"

#define KEYRING_FORMAT          1
#define KEYRING_KEYS_MAX        1000     /* keys a ring holds */
#define KEYRING_ALIASES_MAX     1000     /* aliases, over all keys */
#define KEYRING_ALIAS_MAX       256      /* AliasNameType: 1-256 bytes, "alias/" included */
#define KEYRING_ARN_MAX         (64 + CT_REGION_MAX + KEYRING_ALIAS_MAX)
#define KEYRING_WINDOW_MIN_DAYS 7
#define KEYRING_WINDOW_MAX_DAYS 30
#define KEYRING_DAY_SECONDS     86400

enum keyring_state {
	KEYRING_ENABLED,
	KEYRING_DISABLED,
	KEYRING_PENDING_DELETION,
};

/* KMS's KeyState names: "Enabled", "Disabled", "PendingDeletion". */
const char *keyring_state_name(enum keyring_state s);

/* What DescribeKey tells of one key. */
struct keyring_key_info {
	char key_id[CRYPTO_KEY_ID_LEN + 1];
	char arn[KEYRING_ARN_MAX];
	enum keyring_state state;
	int64_t creation_date;     /* epoch seconds */
	int64_t deletion_date;     /* PendingDeletion: when the material goes; else 0 */
};

struct keyring_alias {
	char name[KEYRING_ALIAS_MAX + 1];       /* "alias/NAME" */
	char target[CRYPTO_KEY_ID_LEN + 1];
};

struct keyring;

/* Open the ring in dir for account (12 digits) and region (created with
 * mode 0700 and its parents when missing; an existing dir is chmod'ed to
 * 0700).  Reads the index and every key's material, and removes leftovers
 * (see above).  NULL on failure with err saying why (a damaged ring:
 * InvalidStateFile with the path). */
struct keyring *keyring_open(const char *dir, const char *account, const char *region,
			     struct ct_err *err);
/* Close the ring and wipe the key material it holds (NULL is fine). */
void keyring_close(struct keyring *kr);

/* Check an alias name as CreateAlias does: "alias/" then 1 or more of
 * [A-Za-z0-9/_-], at most KEYRING_ALIAS_MAX bytes in all, not beginning
 * "alias/aws/" (reserved for AWS managed keys).  0 or -EINVAL with
 * InvalidAliasNameException. */
int keyring_alias_name_check(const char *name, struct ct_err *err);

/* CreateKey: a new Enabled key with fresh random material, created at now,
 * with policy[0..policy_len) as its key policy (validated:
 * MalformedPolicyDocumentException), or KMS's default policy when policy
 * is NULL:
 *   {"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":
 *    "Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":
 *    "arn:aws:iam::ACCOUNT:root"},"Action":"kms:*","Resource":"*"}]}
 * info (may be NULL) gets the new key's description.  Durable on 0. */
int keyring_create_key(struct keyring *kr, const char *policy, size_t policy_len, int64_t now,
		       struct keyring_key_info *info, struct ct_err *err);

/* CreateAlias: name (keyring_alias_name_check) for the key target (a key id
 * or key ARN; an alias is NotFoundException, as KMS).  AlreadyExistsException
 * when the name is taken; KMSInvalidStateException when the key is pending
 * deletion.  Durable on 0. */
int keyring_create_alias(struct keyring *kr, const char *name, const char *target,
			 struct ct_err *err);

/* DeleteAlias: remove alias name (alias/NAME).  NotFoundException when
 * there is no such alias.  The key is untouched.  Durable on 0. */
int keyring_delete_alias(struct keyring *kr, const char *name, struct ct_err *err);

/* DescribeKey: the key key_spec names (any state).  NotFoundException. */
int keyring_describe(struct keyring *kr, const char *key_spec, struct keyring_key_info *info,
		     struct ct_err *err);

/* Every key (creation order) and every alias (sorted by name); the arrays
 * are malloc'd, the caller frees them (free(); either may be NULL when
 * empty).  0 or -ENOMEM. */
int keyring_list(struct keyring *kr, struct keyring_key_info **keys, size_t *n_keys,
		 struct keyring_alias **aliases, size_t *n_aliases);

/* EnableKey (enabled true) / DisableKey: Enabled <-> Disabled; setting
 * the state a key already has is a success that writes nothing.  A key
 * pending deletion: KMSInvalidStateException.  Durable on 0. */
int keyring_set_enabled(struct keyring *kr, const char *key_spec, bool enabled,
			struct ct_err *err);

/* ScheduleKeyDeletion: the key becomes PendingDeletion with DeletionDate
 * now + days * 86400.  days outside 7..30: ValidationException
 * "PendingWindowInDays must be between 7 and 30"; a key already pending:
 * KMSInvalidStateException.  *deletion_date (may be NULL) gets the date.
 * Durable on 0. */
int keyring_schedule_deletion(struct keyring *kr, const char *key_spec, int days, int64_t now,
			      int64_t *deletion_date, struct ct_err *err);

/* CancelKeyDeletion: a PendingDeletion key becomes Disabled (as on AWS);
 * any other state: KMSInvalidStateException.  Durable on 0. */
int keyring_cancel_deletion(struct keyring *kr, const char *key_spec, struct ct_err *err);

/* The end of pending windows: destroy every key whose DeletionDate is at or
 * before now: it leaves the index (with its aliases), its material is
 * overwritten, fsync'ed and unlinked, its policy unlinked.  What it wrapped
 * can never be unwrapped again (Decrypt: NotFoundException).  *destroyed
 * (may be NULL) gets how many; *next (may be NULL) the earliest remaining
 * DeletionDate, or 0 when no key is pending: when to call again.  0 or
 * -errno (the keys destroyed before a failure stay destroyed). */
int keyring_expire(struct keyring *kr, int64_t now, size_t *destroyed, int64_t *next,
		   struct ct_err *err);

/* GetKeyPolicy: append the key's policy to out.  NotFoundException. */
int keyring_get_policy(struct keyring *kr, const char *key_spec, struct buf *out,
		       struct ct_err *err);

/* PutKeyPolicy: replace the key's policy with doc[0..len) after
 * kmspolicy_validate.  caller (may be NULL: BypassPolicyLockoutSafetyCheck)
 * is who asks: KMS's lockout safety check then refuses a policy that would
 * not let that principal call kms:PutKeyPolicy again, with
 * MalformedPolicyDocumentException "The new key policy will not allow you
 * to update the key policy in the future." (caller's action, key_arn and
 * account are filled in here).  A key pending deletion:
 * KMSInvalidStateException.  Takes effect for every later evaluation.
 * Durable on 0. */
int keyring_put_policy(struct keyring *kr, const char *key_spec, const char *doc, size_t len,
		       const struct kms_request *caller, struct ct_err *err);

/* Evaluate rq against the policy of the key key_spec names (rq->key_arn and
 * rq->account are filled in here from the ring when NULL).  0 when allowed,
 * AccessDeniedException (EACCES) when not, NotFoundException.  The key's
 * state is not checked here: the call itself does that. */
int keyring_authorize(struct keyring *kr, const char *key_spec, const struct kms_request *rq,
		      struct ct_err *err);

/* GenerateDataKey (KeySpec AES_256): a fresh random 32-byte key in
 * plaintext, and its wrapped form (crypto.h's format) bound to the
 * encryption context ctx[0..n) in blob.  key_arn (may be NULL) gets the
 * key's ARN.  DisabledException, KMSInvalidStateException (pending),
 * NotFoundException, ValidationException (a context crypto_context_serialize
 * refuses).  plaintext is wiped on failure; the caller wipes it after use. */
int keyring_generate_data_key(struct keyring *kr, const char *key_spec,
			      const struct crypto_context_pair *ctx, size_t n,
			      uint8_t plaintext[CRYPTO_KEY_LEN], uint8_t blob[CRYPTO_WRAPPED_LEN],
			      char key_arn[KEYRING_ARN_MAX], struct ct_err *err);

/* Decrypt: unwrap blob[0..len) with the key it names and the context
 * ctx[0..n), into plaintext.  key_arn (may be NULL) gets that key's ARN
 * (also on failure once the key is known, for the audit record).
 * InvalidCiphertextException (malformed blob, failed tag: tampered bytes
 * or another context), NotFoundException (no such key: never made, or
 * destroyed), DisabledException, KMSInvalidStateException (pending).
 * plaintext is wiped on failure. */
int keyring_decrypt(struct keyring *kr, const uint8_t *blob, size_t len,
		    const struct crypto_context_pair *ctx, size_t n,
		    uint8_t plaintext[CRYPTO_KEY_LEN], char key_arn[KEYRING_ARN_MAX],
		    struct ct_err *err);

#endif
