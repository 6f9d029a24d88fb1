// The JSON gateway's routes: each HTTP path of etcd 3.4's gateway (the google.api.http
// annotations of etcd's etcdserver/etcdserverpb/rpc.proto, release-3.4) and the gRPC method it
// calls. Every route takes POST with the request message as the body ("body: *").
//
// Where 3.4 differs from the vendored rpc.proto (a 3.5 copy):
// - etcd 3.4 annotates HashKV with "/v3/maintenance/hash", Hash's path; grpc-gateway v1 serves
//   the first handler registered (Hash), so 3.4 never reaches HashKV over HTTP. Here
//   /v3/maintenance/hash is Hash, as in 3.4, and HashKV is at 3.5's "/v3/maintenance/hashkv".
// - AuthStatus (/v3/auth/status) and Downgrade (/v3/maintenance/downgrade) are 3.5's; etcd
//   3.4 has no such RPCs, and neither route is served.

export type GatewayService = "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance" | "Auth";

export interface GatewayRoute {
  readonly service: GatewayService;
  /** The RPC's name in the service ("LeaseGrant"). */
  readonly method: string;
  /** The request message ("etcdserverpb.LeaseGrantRequest"). */
  readonly request: string;
  /** The response message. */
  readonly response: string;
}

const route = (
  service: GatewayService,
  method: string,
  request: string,
  response = request.replace(/Request$/, "Response"),
): GatewayRoute => ({
  service,
  method,
  request: `etcdserverpb.${request}`,
  response: `etcdserverpb.${response}`,
});

const auth = (method: string, message: string): GatewayRoute =>
  route("Auth", method, `${message}Request`);

/** HTTP path → the RPC it calls. */
export const GATEWAY_ROUTES: ReadonlyMap<string, GatewayRoute> = new Map([
  ["/v3/kv/range", route("KV", "Range", "RangeRequest")],
  ["/v3/kv/put", route("KV", "Put", "PutRequest")],
  ["/v3/kv/deleterange", route("KV", "DeleteRange", "DeleteRangeRequest")],
  ["/v3/kv/txn", route("KV", "Txn", "TxnRequest")],
  ["/v3/kv/compaction", route("KV", "Compact", "CompactionRequest")],

  ["/v3/watch", route("Watch", "Watch", "WatchRequest")],

  ["/v3/lease/grant", route("Lease", "LeaseGrant", "LeaseGrantRequest")],
  ["/v3/lease/revoke", route("Lease", "LeaseRevoke", "LeaseRevokeRequest")],
  ["/v3/kv/lease/revoke", route("Lease", "LeaseRevoke", "LeaseRevokeRequest")],
  ["/v3/lease/keepalive", route("Lease", "LeaseKeepAlive", "LeaseKeepAliveRequest")],
  ["/v3/lease/timetolive", route("Lease", "LeaseTimeToLive", "LeaseTimeToLiveRequest")],
  ["/v3/kv/lease/timetolive", route("Lease", "LeaseTimeToLive", "LeaseTimeToLiveRequest")],
  ["/v3/lease/leases", route("Lease", "LeaseLeases", "LeaseLeasesRequest")],
  ["/v3/kv/lease/leases", route("Lease", "LeaseLeases", "LeaseLeasesRequest")],

  ["/v3/cluster/member/add", route("Cluster", "MemberAdd", "MemberAddRequest")],
  ["/v3/cluster/member/remove", route("Cluster", "MemberRemove", "MemberRemoveRequest")],
  ["/v3/cluster/member/update", route("Cluster", "MemberUpdate", "MemberUpdateRequest")],
  ["/v3/cluster/member/list", route("Cluster", "MemberList", "MemberListRequest")],
  ["/v3/cluster/member/promote", route("Cluster", "MemberPromote", "MemberPromoteRequest")],

  ["/v3/maintenance/alarm", route("Maintenance", "Alarm", "AlarmRequest")],
  ["/v3/maintenance/status", route("Maintenance", "Status", "StatusRequest")],
  ["/v3/maintenance/defragment", route("Maintenance", "Defragment", "DefragmentRequest")],
  ["/v3/maintenance/hash", route("Maintenance", "Hash", "HashRequest")],
  ["/v3/maintenance/hashkv", route("Maintenance", "HashKV", "HashKVRequest")],
  ["/v3/maintenance/snapshot", route("Maintenance", "Snapshot", "SnapshotRequest")],
  ["/v3/maintenance/transfer-leadership", route("Maintenance", "MoveLeader", "MoveLeaderRequest")],

  ["/v3/auth/enable", auth("AuthEnable", "AuthEnable")],
  ["/v3/auth/disable", auth("AuthDisable", "AuthDisable")],
  ["/v3/auth/authenticate", auth("Authenticate", "Authenticate")],
  ["/v3/auth/user/add", auth("UserAdd", "AuthUserAdd")],
  ["/v3/auth/user/get", auth("UserGet", "AuthUserGet")],
  ["/v3/auth/user/list", auth("UserList", "AuthUserList")],
  ["/v3/auth/user/delete", auth("UserDelete", "AuthUserDelete")],
  ["/v3/auth/user/changepw", auth("UserChangePassword", "AuthUserChangePassword")],
  ["/v3/auth/user/grant", auth("UserGrantRole", "AuthUserGrantRole")],
  ["/v3/auth/user/revoke", auth("UserRevokeRole", "AuthUserRevokeRole")],
  ["/v3/auth/role/add", auth("RoleAdd", "AuthRoleAdd")],
  ["/v3/auth/role/get", auth("RoleGet", "AuthRoleGet")],
  ["/v3/auth/role/list", auth("RoleList", "AuthRoleList")],
  ["/v3/auth/role/delete", auth("RoleDelete", "AuthRoleDelete")],
  ["/v3/auth/role/grant", auth("RoleGrantPermission", "AuthRoleGrantPermission")],
  ["/v3/auth/role/revoke", auth("RoleRevokePermission", "AuthRoleRevokePermission")],
]);

/**
 * The route at an HTTP path. etcd 3.4 still serves its deprecated `/v3beta/` prefix for every
 * route (removed in 3.5), so it is accepted here too.
 */
export function gatewayRouteOf(path: string): GatewayRoute | undefined {
  const route = GATEWAY_ROUTES.get(path);
  if (route !== undefined || !path.startsWith("/v3beta/")) return route;
  return GATEWAY_ROUTES.get(`/v3/${path.slice("/v3beta/".length)}`);
}

/** The gRPC path a route's calls take ("/etcdserverpb.Lease/LeaseGrant"). */
export const grpcPathOf = (r: GatewayRoute): string => `/etcdserverpb.${r.service}/${r.method}`;
