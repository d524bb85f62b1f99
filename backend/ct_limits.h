/* Named limits, from AWS's documented quotas and trailfs's own caps. */
#ifndef TRAILFS_CT_LIMITS_H
#define TRAILFS_CT_LIMITS_H

#define CT_TRAIL_NAME_MIN        3
#define CT_TRAIL_NAME_MAX        128
#define CT_TRAILS_PER_REGION     5       /* MaximumNumberOfTrailsExceededException */
#define CT_BUCKET_NAME_MIN       3
#define CT_BUCKET_NAME_MAX       63
#define CT_PREFIX_MAX            200     /* S3KeyPrefix */
#define CT_REGION_MAX            32
#define CT_ACCOUNT_LEN           12
#define CT_ARN_MAX               1024
#define CT_KMS_ALIAS_MAX         256     /* alias/NAME, counted without "alias/" */
#define CT_SNS_TOPIC_MAX         256
#define CT_LOG_GROUP_MAX         512
#define CT_TAGS_MAX              50      /* TagsLimitExceededException */
#define CT_TAG_KEY_MAX           128     /* characters */
#define CT_TAG_VALUE_MAX         256     /* characters */
#define CT_SELECTORS_MAX         5
#define CT_DATA_RESOURCES_MAX    250     /* over all basic selectors, "all" values excluded */
#define CT_DATA_VALUE_MAX        2048
#define CT_POLICY_MAX            20480   /* S3 bucket policy size limit */
#define CT_SETTING_MAX           (1024 * 1024) /* largest value a settings file accepts */
#define CT_ERRORS_KEPT           1000    /* lines in /errors */
#define CT_ERR_MESSAGE_MAX       1024

#endif
