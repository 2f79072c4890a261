/**
 * Key builders for the single item model. Every entity's key is built here, so the key design in
 * docs/data-model.md has exactly one implementation, whatever the engine.
 */
export const keys = {
  /** Settings of the control plane itself (its root secret). */
  meta: (name: string) => ({ pk: "META", sk: name }),
  workspace: (ws: string) => ({ pk: `WS#${ws}`, sk: "WS" }),
  apiKey: (id: string) => ({ pk: `APIKEY#${id}`, sk: "APIKEY" }),
  apiKeysOf: (ws: string) => `WS#${ws}#APIKEYS`,
  registrationToken: (id: string) => ({ pk: `REGTOKEN#${id}`, sk: "REGTOKEN" }),
  registrationTokensOf: (ws: string) => `WS#${ws}#REGTOKENS`,
  nodeGroup: (ws: string, name: string) => ({ pk: `WS#${ws}`, sk: `NODEGROUP#${name}` }),
  nodeGroupsPrefix: "NODEGROUP#",
  nodeGroupId: (id: string) => `NODEGROUPID#${id}`,
  device: (id: string) => ({ pk: `DEVICE#${id}`, sk: "DEVICE" }),
  presence: (id: string) => ({ pk: `DEVICE#${id}`, sk: "SEEN" }),
  machineInfo: (id: string) => ({ pk: `DEVICE#${id}`, sk: "MACHINEINFO" }),
  /** A device's last GPU health report (specs/gpu-health.md §5). */
  health: (id: string) => ({ pk: `DEVICE#${id}`, sk: "HEALTH" }),
  /** One health event of a device, by time. */
  healthEvent: (id: string, time: string, eventId: string) => ({
    pk: `DEVICE#${id}`,
    sk: `HEVT#${time}#${eventId}`,
  }),
  devicesOf: (ws: string) => `WS#${ws}#DEVICES`,
  reservation: (deviceId: string, id: string) => ({ pk: `DEVICE#${deviceId}`, sk: `RES#${id}` }),
  /** A reservation's sampling lease and latest resource-use sample (specs/launcher-extras.md §1). */
  usage: (id: string) => ({ pk: `RES#${id}`, sk: "USAGE" }),
  reservationsPrefix: "RES#",
  reservationPointer: (id: string) => ({ pk: `RES#${id}`, sk: "RES" }),
  reservationsOf: (ws: string) => `WS#${ws}#RES`,
  expiryShard: (shard: number) => `EXPIRY#${shard}`,
  feedOf: (deviceId: string) => `FEED#${deviceId}`,
  feedEntry: (deviceId: string, seq: number) => ({ pk: `FEED#${deviceId}`, sk: pad(seq) }),
  /** Sorts after every entry ("H" > digits), so a read from a cursor ends with the head and the removals. */
  feedHead: (deviceId: string) => ({ pk: `FEED#${deviceId}`, sk: "HEAD" }),
  feedRemoval: (deviceId: string, reservationId: string) => ({
    pk: `FEED#${deviceId}`,
    sk: `RM#${reservationId}`,
  }),
  feedChangeShard: (shard: number) => `FEEDCHANGES#${shard}`,
  feedChange: (shard: number, at: string, deviceId: string, seq: string) => ({
    pk: `FEEDCHANGES#${shard}`,
    sk: `${at}#${deviceId}#${seq}`,
  }),
  output: (reservationId: string, seq: number) => ({ pk: `OUT#${reservationId}`, sk: pad(seq) }),
  outputOf: (reservationId: string) => `OUT#${reservationId}`,
  /** The bytes of a reservation's stored output received on one day (an application's, which is capped). */
  outputBytes: (reservationId: string, day: string) => ({ pk: `OUTB#${reservationId}`, sk: `DAY#${day}` }),
  outputBytesOf: (reservationId: string) => `OUTB#${reservationId}`,
  job: (id: string) => ({ pk: `JOB#${id}`, sk: "JOB" }),
  jobsOf: (ws: string) => `WS#${ws}#JOBS`,
  jobQueue: (shard: number) => `JOBQ#${shard}`,
  /** A key's claim on a job name while the job holding it has not ended (`owner`: the key id, URI-encoded). */
  jobName: (ws: string, owner: string, name: string) => ({
    pk: `WS#${ws}`,
    sk: `JOBNAME#${encodeURIComponent(owner)}#${name}`,
  }),
  jobEvent: (jobId: string, eventId: string) => ({ pk: `JOB#${jobId}`, sk: `EVT#${eventId}` }),
  profile: (ws: string, name: string) => ({ pk: `WS#${ws}`, sk: `PROFILE#${name}` }),
  profilesPrefix: "PROFILE#",
  quota: (ws: string) => ({ pk: `WS#${ws}`, sk: "QUOTA" }),
  namespace: (ws: string, name: string) => ({ pk: `WS#${ws}`, sk: `NS#${name}` }),
  namespacesPrefix: "NS#",
  /** Index partition of namespaces being deleted, in every workspace (the sweeper's work list). */
  namespacesDeleting: "NSDELETING",
  secret: (ws: string, ns: string, name: string) => ({ pk: `WS#${ws}`, sk: `SECRET#${ns}#${name}` }),
  secretsPrefix: (ns: string) => `SECRET#${ns}#`,
  /** A workspace's data key for secrets, stored wrapped. */
  dataKey: (ws: string, keyId: string) => ({ pk: `WS#${ws}`, sk: `DATAKEY#${keyId}` }),
  application: (id: string) => ({ pk: `APP#${id}`, sk: "APP" }),
  /** A namespace's application names (the name is unique per namespace): `{applicationId}`. */
  applicationName: (ws: string, ns: string, name: string) => ({
    pk: `WS#${ws}`,
    sk: `APPNAME#${ns}#${name}`,
  }),
  applicationsOf: (ws: string) => `WS#${ws}#APPS`,
  /** Every application, sharded: the reconciler's full pass. */
  applicationShard: (shard: number) => `APPS#${shard}`,
  deployment: (appId: string, deviceId: string) => ({ pk: `APP#${appId}`, sk: `DEP#${deviceId}` }),
  deploymentsPrefix: "DEP#",
  /** An application's deployment counts, beside its deployments. */
  deploymentCounts: (appId: string) => ({ pk: `APP#${appId}`, sk: "COUNTS" }),
  deploymentsOn: (deviceId: string) => `DEVICE#${deviceId}#APPS`,
  /** An application waiting for a reconcile pass: `{n, at}`, in the sparse queue `APPQ#<shard>` (gsi2). */
  applicationDirty: (appId: string) => ({ pk: `APP#${appId}`, sk: "DIRTY" }),
  applicationQueue: (shard: number) => `APPQ#${shard}`,
  /** Until when a pass of the application holds its lease: `{until}`. */
  applicationPass: (appId: string) => ({ pk: `APP#${appId}`, sk: "PASS" }),
  /** Until when the sweeper's full pass over every application is taken. */
  applicationsFullPass: { pk: "APPQ", sk: "FULL" },
  /** A workspace's GPU health settings (specs/gpu-health.md §5). */
  healthSettings: (ws: string) => ({ pk: `WS#${ws}`, sk: "HEALTHSETTINGS" }),
  /** A workspace's lab config (specs/labs.md §2). */
  labConfig: (ws: string) => ({ pk: `WS#${ws}`, sk: "LABCONFIG" }),
  /** A user's lab quota override. */
  labQuota: (ws: string, user: string) => ({ pk: `WS#${ws}`, sk: `LABQUOTA#${user}` }),
  /** Index partition of every workspace with a lab config (the prepuller's work list). */
  labConfigs: "LABCONFIGS",
  /** A user's lab or file server (specs/labs.md §5, §8). */
  lab: (ws: string, kind: string, user: string) => ({ pk: `WS#${ws}`, sk: `LAB#${kind}#${user}` }),
  labsPrefix: (kind: string) => `LAB#${kind}#`,
  /** The prepuller's state of a workspace. */
  labPrepull: (ws: string) => ({ pk: `WS#${ws}`, sk: "LABPREPULL" }),
  /** A workspace's cluster config (specs/launcher-extras.md §3). */
  clusterConfig: (ws: string) => ({ pk: `WS#${ws}`, sk: "CLUSTERCONFIG" }),
  /** A workspace's cluster-info summary, rebuilt under a lease when older than a minute. */
  clusterInfo: (ws: string) => ({ pk: `WS#${ws}`, sk: "CLUSTERINFO" }),
  cloudReservation: (id: string) => ({ pk: `CLOUDRES#${id}`, sk: "CLOUDRES" }),
  cloudQueue: (shard: number) => `CLOUDQ#${shard}`,
} as const;

/** Zero-padded so that string order is numeric order. */
export function pad(n: number): string {
  return String(n).padStart(16, "0");
}

/**
 * Index partitions that every writer of a kind shares (the expiry, change, job and cloud queues) are spread
 * over this many shards, so no single DynamoDB partition takes every write. Readers query each shard.
 */
export const SHARDS = 4;
export const ALL_SHARDS = Array.from({ length: SHARDS }, (_, i) => i);

/** A stable shard in [0, SHARDS) for a string. */
export function shardOf(value: string): number {
  let h = 0;
  for (let i = 0; i < value.length; i++) h = (h * 31 + value.charCodeAt(i)) >>> 0;
  return h % SHARDS;
}

/** Epoch seconds for the `ttl` attribute (garbage collection only). */
export const ttlOf = (iso: string, plusDays: number) =>
  Math.floor(Date.parse(iso) / 1000) + plusDays * 86_400;
