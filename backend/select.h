/* Routing: which trails take which records. */
#ifndef TRAILFS_SELECT_H
#define TRAILFS_SELECT_H

#include <stdbool.h>

#include "event.h"
#include "trail.h"

/* Does trail t take record e?  Pure; the rules, in order:
 *  - a trail that is not logging takes nothing;
 *  - region: a multi-region trail takes every region, another only its
 *    home region;
 *  - global service events (e->global) only with global_events on;
 *  - Insight and network-activity records are not selected (no selectors
 *    for them);
 *  - a management record by t->sel.mgmt: ReadOnly takes read_only records,
 *    WriteOnly the others, All both, None neither; records from
 *    kms.amazonaws.com / rdsdata.amazonaws.com are dropped when excluded;
 *  - a data record when one of its resources matches a data resource of the
 *    same type whose value is a prefix of the resource ARN ("arn:aws:s3",
 *    "arn:aws:lambda", "arn:aws:dynamodb" match every resource of their type)
 *    and whose read/write type covers the record. */
bool select_matches(const struct trail *t, const struct event *e);

#endif
