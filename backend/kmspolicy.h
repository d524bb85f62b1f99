/* KMS key policies: the grammar check PutKeyPolicy makes, IAM's evaluation
 * of a request against a key policy with trailfs's mapping of principals to
 * local users, the policy CloudTrail's console writes for a new key, and the
 * check CreateTrail/UpdateTrail make of an existing key's policy.
 *
 * A separate module from policy.c (bucket policies): a key policy's grammar
 * differs (Principal is required, Resource names the key, not a bucket,
 * Sids may hold spaces, 32 KB instead of 20 KB) and its principals are
 * evaluated for local users as well as for the CloudTrail service, which
 * policy.c's evaluator, built around one service principal and S3
 * resources, does not model.  The glob matcher is shared (policy.h).
 *
 * Principal mapping (the rules):
 *   "*", {"AWS":"*"}                      every principal: each local user,
 *                                         and the services (with no
 *                                         kms:CallerAccount, so a
 *                                         kms:CallerAccount condition keeps
 *                                         services out)
 *   arn:aws:iam::ACCOUNT:root, ACCOUNT    uid 0
 *   arn:aws:iam::ACCOUNT:user/[PATH/]NAME the local user NAME
 *   {"Service":"cloudtrail.amazonaws.com"} the CloudTrail service
 *   anything else (other accounts, roles)  nobody
 *
 * Request context a local user's request carries: kms:CallerAccount =
 * ACCOUNT, aws:username = NAME, aws:PrincipalArn (root's or the user's ARN),
 * aws:PrincipalAccount = ACCOUNT, kms:EncryptionContext:KEY per context pair.
 * The CloudTrail service's: aws:SourceArn, aws:SourceAccount,
 * aws:PrincipalServiceName = cloudtrail.amazonaws.com, and the
 * kms:EncryptionContext:KEY pairs.
 *
 * Condition operators evaluated: String[Not]Equals[IgnoreCase],
 * String[Not]Like, Arn[Not]Equals, Arn[Not]Like, Bool, Null, each also with
 * ...IfExists.  Condition key names compare case-insensitively, except the
 * part after kms:EncryptionContext:, which is a context key and exact.  A
 * condition with any other operator does not hold (an Allow that depends on
 * it does not count, a Deny that depends on it does not apply), as policy.c.
 * A request is allowed when some Allow statement applies and no Deny
 * statement does (explicit Deny wins, default deny). */
#ifndef TRAILFS_KMSPOLICY_H
#define TRAILFS_KMSPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"

#define KMSPOLICY_MAX         32768     /* KMS's key policy size limit, bytes */
#define KMSPOLICY_CLOUDTRAIL  "cloudtrail.amazonaws.com"
#define KMSPOLICY_CT_CONTEXT  "aws:cloudtrail:arn"

/* Who asks. */
enum kms_principal_kind {
	KMS_PRINCIPAL_USER,      /* a local user, by name and uid */
	KMS_PRINCIPAL_SERVICE,   /* an AWS service principal (CloudTrail) */
};

/* One request to evaluate.  Every string is borrowed. */
struct kms_request {
	const char *action;          /* "kms:Decrypt", "kms:GenerateDataKey", ... */
	const char *key_arn;         /* the key's ARN: the request's resource */
	const char *account;         /* the key's (and the local users') account */
	enum kms_principal_kind kind;
	const char *user;            /* USER: the local user name ("root" for uid 0 is fine) */
	uint32_t uid;                /* USER: the uid; 0 is the account root */
	const char *service;         /* SERVICE: e.g. KMSPOLICY_CLOUDTRAIL */
	const char *source_arn;      /* SERVICE: aws:SourceArn, or NULL */
	const char *source_account;  /* SERVICE: aws:SourceAccount, or NULL */
	const struct crypto_context_pair *context;   /* the encryption context (may be NULL) */
	size_t n_context;
};

/* Check len bytes as a key policy: UTF-8 JSON of at most KMSPOLICY_MAX
 * bytes, of the grammar KMS accepts:
 *   top level: Version ("2012-10-17" or "2008-10-17", optional), Id
 *   (optional string), Statement (an object or a non-empty array of them);
 *   nothing else.
 *   statement: Sid (optional string), Effect ("Allow"|"Deny"), Principal
 *   (required: "*" or an object of AWS, Service, Federated, each a string
 *   or a non-empty array of strings; AWS values are "*", a 12-digit
 *   account, or an arn:aws:iam::ACCOUNT:... / arn:aws:sts::ACCOUNT:...
 *   ARN; Service values end in ".amazonaws.com"), exactly one of
 *   Action/NotAction ("*" or "service:Pattern" strings), exactly one of
 *   Resource/NotResource ("*" or "arn:aws:kms:..." patterns), Condition
 *   (optional: operator -> {key -> string, bool, number or a non-empty array
 *   of them}); nothing else (NotPrincipal included: KMS refuses it).
 * KMS's error MalformedPolicyDocumentException (EINVAL) with a message
 * naming the member.  0 when valid. */
int kmspolicy_validate(const char *doc, size_t len, struct ct_err *err);

/* KMS's check that a policy names principals that exist: every
 * arn:aws:iam::ACCOUNT:user/[PATH/]NAME of this account must name a local
 * user, as user_exists(NAME, arg) says (the caller looks the name up, so
 * this module stays free of the system's user database).  Principals of
 * other accounts, roles, "*", and services are not checked.  0, or -EINVAL
 * with MalformedPolicyDocumentException "Policy contains a statement with
 * one or more invalid principals." (KMS's words) followed by the name.  A
 * document that does not pass kmspolicy_validate gives that function's
 * error. */
int kmspolicy_check_principals(const char *doc, size_t len, const char *account,
			       bool (*user_exists)(const char *name, void *arg), void *arg,
			       struct ct_err *err);

/* Evaluate rq against the policy doc[0..len) (which should have passed
 * kmspolicy_validate; a document that does not parse allows nothing).
 * 0 when allowed; -EACCES with AccessDeniedException and AWS's message,
 *   "User: PRINCIPAL_ARN is not authorized to perform: ACTION on resource:
 *   KEY_ARN because no resource-based policy allows the ACTION action"
 * or "... with an explicit deny in a resource-based policy"; -EINVAL for
 * a request missing its action, key ARN, account or principal. */
int kmspolicy_evaluate(const char *doc, size_t len, const struct kms_request *rq,
		       struct ct_err *err);

/* The principal ARN a local user maps to: arn:aws:iam::ACCOUNT:root for uid
 * 0, else arn:aws:iam::ACCOUNT:user/NAME.  Appended to out.  0 or -errno. */
int kmspolicy_user_arn(const char *account, const char *user, uint32_t uid, struct buf *out);

/* The key policy CloudTrail's console writes when it creates a key for a
 * trail (reference §8), appended to out as pretty JSON:
 *   "Enable IAM User Permissions": the account root, kms:*;
 *   "Allow CloudTrail to encrypt logs": cloudtrail.amazonaws.com,
 *     kms:GenerateDataKey*, StringEquals aws:SourceArn = trail_arn and
 *     StringLike kms:EncryptionContext:aws:cloudtrail:arn =
 *     arn:aws:cloudtrail:*:ACCOUNT:trail/ followed by *;
 *   "Allow CloudTrail to describe key": cloudtrail.amazonaws.com, kms:DescribeKey;
 *   "Enable CloudTrail log decrypt permissions": the user who set it
 *     (arn:aws:iam::ACCOUNT:user/NAME; left out for uid 0, which the first
 *     statement covers), kms:Decrypt and kms:ReEncryptFrom, with
 *     Null kms:EncryptionContext:aws:cloudtrail:arn = false.
 * Resource "*" throughout, as in a key policy.  0 or -errno. */
int kmspolicy_for_cloudtrail(const char *account, const char *trail_arn, const char *user,
			     uint32_t uid, struct buf *out);

/* Does the policy let CloudTrail generate data keys for trail_arn's log
 * files?  Evaluates kms:GenerateDataKey by cloudtrail.amazonaws.com on
 * key_arn with aws:SourceArn = trail_arn, aws:SourceAccount = account and
 * the encryption context {aws:cloudtrail:arn: trail_arn}.  0 when allowed,
 * else -EACCES with InsufficientEncryptionPolicyException ("Insufficient
 * permissions to access S3 bucket ... or KMS key KEY_ARN." as CloudTrail
 * says, followed by why); a document that does not parse gives that error
 * too. */
int kmspolicy_allows_cloudtrail(const char *doc, size_t len, const char *account,
				const char *key_arn, const char *trail_arn, struct ct_err *err);

#endif
