// gRPC metadata keys Ordo adds to etcd's API, shared by its server and its client.

/** A write's client session (Raft thesis §6.3), registered with POST /ordo/v1/session. */
export const SESSION_METADATA_KEY = "ordo-session";
/** The write's sequence number in its session: 1, 2, 3, ... one write at a time. */
export const SEQ_METADATA_KEY = "ordo-seq";
/** The name of the member that answered (MemberList and Status calls). */
export const MEMBER_NAME_METADATA_KEY = "ordo-member-name";
