#include "select.h"

#include <string.h>

#define SRC_KMS      "kms.amazonaws.com"
#define SRC_RDSDATA  "rdsdata.amazonaws.com"

/* The read/write bit a record falls under. */
static enum rw_type record_rw(const struct event *e)
{
	return e->read_only ? RW_READ : RW_WRITE;
}

static bool takes_management(const struct selectors *s, const struct event *e)
{
	if (!(s->mgmt & record_rw(e)))
		return false;
	if (s->exclude_kms && !strcmp(e->source, SRC_KMS))
		return false;
	if (s->exclude_rdsdata && !strcmp(e->source, SRC_RDSDATA))
		return false;
	return true;
}

/* A data resource's value is a prefix of the resource ARN.  Plain prefix
 * matching is what AWS documents for S3 ("arn:aws:s3:::bucket/prefix"), and
 * it keeps buckets apart because every bucket value ends in '/':
 * "arn:aws:s3:::logs/" is no prefix of "arn:aws:s3:::logs2/key".  The
 * "all of a type" values ("arn:aws:s3" and so on) are prefixes of every ARN
 * of their type, so they need no case of their own. */
static bool value_covers(const char *value, const char *arn)
{
	size_t n = strlen(value);
	return strncmp(value, arn, n) == 0;
}

static bool takes_data(const struct selectors *s, const struct event *e)
{
	enum rw_type rw = record_rw(e);
	for (size_t i = 0; i < e->n_resources; i++) {
		const struct event_resource *r = &e->resources[i];
		/* Records may carry resources without a type or ARN (the
		 * bucket next to the object, say); they match nothing. */
		if (!r->type || !r->arn || !r->type[0])
			continue;
		for (size_t k = 0; k < s->n_res; k++) {
			const struct data_resource *d = &s->res[k];
			if ((d->rw & rw) && !strcmp(d->type, r->type) && value_covers(d->value, r->arn))
				return true;
		}
	}
	return false;
}

bool select_matches(const struct trail *t, const struct event *e)
{
	if (!t->logging)
		return false;
	/* Global service events arrive with awsRegion us-east-1 (reference
	 * §8), so the region rule alone keeps them from a single-region trail
	 * whose home is elsewhere. */
	if (!t->multi_region && strcmp(e->region, t->home_region) != 0)
		return false;
	if (e->global && !t->global_events)
		return false;
	switch (e->category) {
	case EC_MANAGEMENT:
		return takes_management(&t->sel, e);
	case EC_DATA:
		return takes_data(&t->sel, e);
	case EC_INSIGHT:
	case EC_NETWORK:
	default:
		/* Basic selectors have no way to ask for these. */
		return false;
	}
}
