import type { LoginResponse } from "../../contracts/login.ts";
import { jsonBytes, MAX_ID_LENGTH, unstorableJson, utf8Length } from "../../domain/bounds.ts";
import type { Device, DeviceResources } from "../../domain/device.ts";
import {
  conflict,
  type FieldIssue,
  forbidden,
  invalidRequest,
  notFound,
  unauthorized,
} from "../../domain/errors.ts";
import { isId, newId } from "../../domain/ids.ts";
import { type Labels, normalizeLabels } from "../../domain/labels.ts";
import { GpudMachineInfo, machineInfoIssue, normalizeMachineInfo } from "../../domain/machine-info.ts";
import type { NodeGroup } from "../../domain/node-group.ts";
import { parseGpuCount, parseQuantity } from "../../domain/quantity.ts";
import type { RegistrationToken } from "../../domain/registration-token.ts";
import { sessionToken } from "../../domain/secrets.ts";
import {
  AGENT_PROTOCOL,
  LOGIN_PROOF_WINDOW_MS,
  type LoginProof,
  verifyLoginProof,
} from "../../domain/signing.ts";
import { hashToken, tokenId, tokenMatches } from "../../domain/tokens.ts";
import type { IdentityDeps } from "../deps.ts";
import { type DeviceAuthCache, forgetDeviceSession } from "./device-session.ts";

type Deps = IdentityDeps & {
  deviceAuth: DeviceAuthCache;
  /** A device joined or relogged in (with its labels): the host reconciles the workspace's applications. */
  fleetChanged?: (workspaceId: string) => Promise<void>;
  config: { minAgentProtocol: number; agentEndpoint?: string };
};

type ValidationResult = NonNullable<LoginResponse["validationResults"]>[number];

/** Raw machine info larger than this is not kept (the normalised view always is). */
const MAX_STORED_MACHINE_INFO = 64 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * GPUd-compatible login (specs/agent-protocol.md §1). Checks run in the order of the spec's table and
 * every rejection happens before anything is written. A first login creates the device in the token's
 * workspace and counts one registration against the token atomically; a relogin updates the device and
 * returns its current session token (a new one only when the agent asks to rotate it).
 *
 * @param body the parsed JSON body (the route answers "cannot parse json" itself)
 * @param bearer the token from the Authorization header, if any
 */
export async function login(deps: Deps, body: unknown, bearer: string | undefined): Promise<LoginResponse> {
  if (!isObject(body)) throw invalidRequest("cannot parse json, expected a JSON object");
  if (body.machineInfo === undefined || body.machineInfo === null)
    throw invalidRequest("machine info cannot be nil");
  if (!isObject(body.machineInfo)) throw invalidRequest("cannot parse json, machineInfo must be an object");
  const token = str(body.token);
  if (!token) throw invalidRequest("token is required");
  const machineId = str(body.machineID) ?? "";
  const groupRef = str(body.nodeGroup) ?? "";
  if (!machineId && !groupRef) throw invalidRequest("must specify a machine id or a node group id");
  const tooLong = oversizedField(body);
  if (tooLong) throw invalidRequest(`invalid ${tooLong.path}: ${tooLong.message}`, [tooLong]);

  let nodeLabels: Labels | undefined;
  if (body.nodeLabels !== undefined && body.nodeLabels !== null) {
    if (!isObject(body.nodeLabels)) throw invalidRequest("invalid node labels: must be an object of strings");
    const check = normalizeLabels(body.nodeLabels);
    if (!check.ok) throw invalidRequest(`invalid node labels: ${check.error}`);
    nodeLabels = check.labels;
  }
  const warnings: ValidationResult[] = [];
  const resources = parseResources(body.resources, warnings);

  const registration = await validToken(deps, token, bearer);
  const now = deps.clock.now();
  const raw = GpudMachineInfo.parse(body.machineInfo);
  const infoIssue = machineInfoIssue(raw);
  if (infoIssue) throw invalidRequest(`invalid ${infoIssue.path}: ${infoIssue.message}`, [infoIssue]);
  const network = isObject(body.network) ? body.network : {};
  const location = isObject(body.location) ? body.location : {};
  const info = normalizeMachineInfo(raw, {
    publicIP: str(network.publicIP),
    privateIP: str(network.privateIP),
    region: str(location.region),
    zone: str(location.zone),
    provider: str(body.provider),
    providerInstanceId: str(body.providerInstanceID),
  });
  const machineInfo = storedMachineInfo(body.machineInfo, warnings);
  const publicKey = str(body.publicKey);
  const encryptionKey = str(body.encryptionKey);
  const agentVersion = str(body.agentVersion) ?? raw.gpudVersion;
  // Berth's agent asks for a protocol; GPUd asks for none (1). The answer is the newest both speak.
  const requested =
    typeof body.protocol === "number" && Number.isSafeInteger(body.protocol) && body.protocol > 0
      ? body.protocol
      : 1;
  const protocol = Math.min(requested, AGENT_PROTOCOL);
  if (protocol < deps.config.minAgentProtocol) {
    throw invalidRequest(
      `this control plane needs agent protocol ${deps.config.minAgentProtocol} or later (Berth's agent 0.2 or later); upgrade the agent on this machine`,
    );
  }
  const respond = (device: Pick<Device, "id" | "sessionGeneration">): LoginResponse => ({
    machineID: device.id,
    token: sessionToken(deps.keys.session, device.id, device.sessionGeneration),
    controlPlaneKey: deps.keys.signing.publicKeyBase64,
    ...(requested >= 2 ? { protocol } : {}),
    ...(requested >= 2 && deps.config.agentEndpoint ? { agentEndpoint: deps.config.agentEndpoint } : {}),
    ...(warnings.length ? { validationResults: warnings } : {}),
  });

  if (machineId) {
    const device = await deps.repos.devices.get(machineId);
    // Another workspace's machine is answered as an unknown one: a token must not learn which ids exist.
    if (!device || device.workspaceId !== registration.workspaceId) throw notFound("machine not found");
    if (
      groupRef &&
      (await resolveGroup(deps, registration.workspaceId, groupRef, "lenient"))?.name !== device.nodeGroup
    ) {
      throw invalidRequest(
        `node group does not match: this machine is in node group ${device.nodeGroup}; pass --node-group ${device.nodeGroup} (or none), or move it with berth devices move`,
      );
    }
    if (publicKey && device.publicKey && publicKey !== device.publicKey) {
      throw invalidRequest(
        "publicKey does not match the key this machine registered with; log in as a new machine",
      );
    }
    // A registration token is shared by a whole rack: alone it must not hand out another machine's session.
    // A machine with a key of its own proves it holds that key; one without (GPUd) relogs in on the token's
    // trust only when the token says so.
    if (device.publicKey) {
      const proof = loginProof(body.proof);
      const fresh = proof && Math.abs(Date.parse(proof.at) - now.getTime()) <= LOGIN_PROOF_WINDOW_MS;
      if (!proof || !fresh || !verifyLoginProof(device.id, proof, device.publicKey)) {
        throw unauthorized(
          proof && !fresh
            ? "the relogin proof is too old or from the future: check this machine's clock"
            : "this machine registered with its own key: a relogin must carry a proof signed with it; a registration token alone cannot log it in",
        );
      }
    } else if (registration.keylessRelogin === false) {
      throw forbidden(
        "this registration token registers new machines only: a machine without a key of its own cannot log in again with it (create the token with keylessRelogin for GPUd fleets)",
      );
    }
    const generation =
      body.refreshSessionToken === true ? device.sessionGeneration + 1 : device.sessionGeneration;
    const refreshed = await deps.repos.devices.refresh(
      device.id,
      {
        info,
        resources,
        agentVersion,
        labels: nodeLabels,
        publicKey: device.publicKey ?? publicKey,
        encryptionKey: device.publicKey ? device.encryptionKey : (encryptionKey ?? device.encryptionKey),
        protocol,
        sessionGeneration: generation,
        sessionTokenHash: hashToken(sessionToken(deps.keys.session, device.id, generation)),
      },
      now.toISOString(),
    );
    // A rotated token (or a key set at this login) must not be served from this process's cache.
    forgetDeviceSession(deps.deviceAuth, device.id);
    await deps.repos.devices.seen(device.id, now.toISOString(), 0);
    await deps.repos.devices.saveMachineInfo(device.id, machineInfo);
    await deps.fleetChanged?.(registration.workspaceId);
    return respond(refreshed);
  }

  if (registration.nodeGroup && registration.nodeGroup !== groupRef) {
    const pinned = await resolveGroup(deps, registration.workspaceId, groupRef, "lenient");
    if (pinned?.name !== registration.nodeGroup)
      throw invalidRequest(
        `node group does not match: this registration token is for node group ${registration.nodeGroup}; pass --node-group ${registration.nodeGroup} (or none)`,
      );
  }
  const group = (await resolveGroup(deps, registration.workspaceId, groupRef, "strict"))!;
  const id = newId(now.getTime());
  const device: Device = {
    id,
    name: deviceName(registration, info.hostname, id),
    workspaceId: registration.workspaceId,
    nodeGroup: group.name,
    registrationTokenId: registration.id,
    labels: { ...registration.labels, ...nodeLabels },
    environmentVariables: registration.environmentVariables,
    info,
    resources,
    gpuOwners: {},
    heldCpus: 0,
    heldMemoryGiB: 0,
    heldJobs: 0,
    agentVersion,
    publicKey,
    encryptionKey,
    protocol,
    sessionGeneration: 1,
    sessionTokenHash: hashToken(sessionToken(deps.keys.session, id, 1)),
    lastSeenAt: now.toISOString(),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  // Claim, join, create in one transaction: N racing logins against a cap of M register exactly M devices,
  // and a login that fails (or a process that dies) leaves the token's and the group's counts as they were.
  const committed = await deps.repos.commit([
    deps.repos.registrationTokens.claim(registration.id, now.toISOString()),
    deps.repos.nodeGroups.join(registration.workspaceId, group.name),
    deps.repos.devices.create(device, machineInfo),
  ]);
  if (!committed.ok) {
    if (committed.failed === 0) throw exhausted(await deps.repos.registrationTokens.get(registration.id));
    if (committed.failed === 1) throw notFound(`node group ${groupRef} not found`);
    throw conflict(`device ${id} already exists; log in again`);
  }
  await deps.fleetChanged?.(registration.workspaceId);
  return respond(device);
}

/**
 * Why a token that matched could not register one more machine: its cap (said with its count, for the one
 * who holds the token), or it expired or was deleted meanwhile.
 */
function exhausted(token: RegistrationToken | undefined) {
  if (token?.maxRegistrations !== undefined && token.deviceCount >= token.maxRegistrations) {
    return unauthorized(
      `registration limit reached (${token.deviceCount} of ${token.maxRegistrations}): raise it with berth tokens update ${token.id} --max-registrations N, or create another token`,
    );
  }
  return unauthorized("invalid token");
}

/** The registration token, if it is known, matches, and has not expired; else 401 "invalid token". */
async function validToken(deps: Deps, token: string, bearer: string | undefined): Promise<RegistrationToken> {
  const invalid = unauthorized("invalid token");
  if (bearer && bearer !== token) throw invalid;
  const id = tokenId("registration", token);
  const record = id ? await deps.repos.registrationTokens.get(id) : undefined;
  if (!record || !tokenMatches(token, record.tokenHash)) throw invalid;
  if (record.expiresAt && Date.parse(record.expiresAt) <= deps.clock.now().getTime()) throw invalid;
  return record;
}

/**
 * A node group named by name (in the token's workspace) or by id (GPUd's "node group id"). Strict:
 * unknown or another workspace's → 404. Lenient: undefined for anything not in this workspace.
 */
async function resolveGroup(
  deps: Deps,
  workspaceId: string,
  ref: string,
  mode: "strict" | "lenient",
): Promise<NodeGroup | undefined> {
  const byName = await deps.repos.nodeGroups.get(workspaceId, ref);
  if (byName) return byName;
  const byId = isId(ref) ? await deps.repos.nodeGroups.getById(ref) : undefined;
  if (byId?.workspaceId === workspaceId) return byId;
  if (mode === "lenient") return undefined;
  // Another workspace's group is answered as an unknown one (no existence oracle).
  throw notFound(`node group ${ref} not found`);
}

/** `{at, signature}` strings, or undefined for anything else. */
function loginProof(raw: unknown): LoginProof | undefined {
  if (!isObject(raw)) return undefined;
  const at = str(raw.at);
  const signature = str(raw.signature);
  return at && signature && !Number.isNaN(Date.parse(at)) ? { at, signature } : undefined;
}

function parseResources(raw: unknown, warnings: ValidationResult[]): DeviceResources {
  const resources: DeviceResources = { gpus: 0 };
  if (raw === undefined || raw === null) return resources;
  if (!isObject(raw)) throw invalidRequest("cannot parse json, resources must be an object of strings");
  const gpu = raw["nvidia.com/gpu"];
  if (gpu !== undefined) {
    const count = typeof gpu === "string" ? parseGpuCount(gpu) : undefined;
    if (count === undefined) {
      throw invalidRequest(
        `invalid resources: nvidia.com/gpu must be a non-negative integer, got ${JSON.stringify(gpu)}`,
      );
    }
    resources.gpus = count;
  }
  for (const [key, field] of [
    ["cpu", "cpu"],
    ["memory", "memory"],
  ] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    const parsed = typeof value === "string" ? parseQuantity(value) : undefined;
    if (parsed === undefined) {
      warnings.push({
        name: `resources.${key}`,
        valid: false,
        reason: `${JSON.stringify(value)} is not a Kubernetes quantity`,
        suggestion: `send ${key} like ${key === "cpu" ? '"8" or "7500m"' : '"64Gi"'}`,
      });
    } else resources[field] = parsed;
  }
  return resources;
}

function storedMachineInfo(raw: Record<string, unknown>, warnings: ValidationResult[]) {
  const size = jsonBytes(raw);
  const unstorable = size <= MAX_STORED_MACHINE_INFO ? unstorableJson(raw) : undefined;
  if (size <= MAX_STORED_MACHINE_INFO && !unstorable) return raw;
  warnings.push({
    name: "machineInfo",
    valid: false,
    reason: unstorable
      ? `machineInfo.${unstorable.path.join(".")} ${unstorable.message}; only its summary is kept`
      : `machineInfo is ${size} bytes; only its summary is kept`,
    suggestion: "nothing to do: hostname, CPU, memory and GPUs were recorded",
  });
  return undefined;
}

/** Bounds of the login's own strings (GPUd sends short ones): ids as everywhere, the rest 256 bytes. */
const LOGIN_FIELDS: [path: string, read: (body: Record<string, unknown>) => unknown, max: number][] = [
  ["token", (b) => b.token, 256],
  ["machineID", (b) => b.machineID, MAX_ID_LENGTH],
  ["nodeGroup", (b) => b.nodeGroup, MAX_ID_LENGTH],
  ["network.publicIP", (b) => (isObject(b.network) ? b.network.publicIP : undefined), 256],
  ["network.privateIP", (b) => (isObject(b.network) ? b.network.privateIP : undefined), 256],
  ["location.region", (b) => (isObject(b.location) ? b.location.region : undefined), 256],
  ["location.zone", (b) => (isObject(b.location) ? b.location.zone : undefined), 256],
  ["provider", (b) => b.provider, 256],
  ["providerInstanceID", (b) => b.providerInstanceID, 256],
  ["publicKey", (b) => b.publicKey, 256],
  ["encryptionKey", (b) => b.encryptionKey, 256],
  ["agentVersion", (b) => b.agentVersion, 100],
  ["proof.at", (b) => (isObject(b.proof) ? b.proof.at : undefined), 64],
  ["proof.signature", (b) => (isObject(b.proof) ? b.proof.signature : undefined), 1024],
  ["resources.cpu", (b) => (isObject(b.resources) ? b.resources.cpu : undefined), 64],
  ["resources.memory", (b) => (isObject(b.resources) ? b.resources.memory : undefined), 64],
  [
    "resources.nvidia.com/gpu",
    (b) => (isObject(b.resources) ? b.resources["nvidia.com/gpu"] : undefined),
    64,
  ],
];

/** The first of the login's strings that is too long (or, for an id, has control characters). */
function oversizedField(body: Record<string, unknown>): FieldIssue | undefined {
  for (const [path, read, max] of LOGIN_FIELDS) {
    const v = read(body);
    if (typeof v !== "string") continue;
    if (utf8Length(v) > max) return { path, message: `must be at most ${max} bytes` };
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (max === MAX_ID_LENGTH && /[\u0000-\u001f\u007f]/.test(v))
      return { path, message: "must not contain control characters" };
  }
  return undefined;
}

function deviceName(token: RegistrationToken, hostname: string | undefined, id: string): string {
  const fromHost = hostname
    ?.toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 100);
  if (token.namingStrategy === "fromHostname" && fromHost) return fromHost;
  return `node-${id.slice(-8)}`;
}
