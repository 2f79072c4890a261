import type { LabImages, LabOptionsView, PrepullerStatus } from "../../contracts/labs.ts";
import { type Device, deviceStatus } from "../../domain/device.ts";
import { newId } from "../../domain/ids.ts";
import { type LabConfig, labQuotaOf, type StoredLabConfig } from "../../domain/lab.ts";
import { type DeviceImage, hasImage, tagOf } from "../../domain/lab-state.ts";
import { disqualification } from "../../domain/placement.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import type { Reservation } from "../../domain/reservation.ts";
import type { PrepullState } from "../../ports/repositories.ts";
import type { JobDeps } from "../deps.ts";
import { newReservation, placeReservation } from "../feed/reservations.ts";
import { enabledConfig, profileResources, sweepLabJob } from "./labs.ts";

/**
 * The image menu and the prepuller (specs/labs.md §3, §7): which devices should hold the lab images, which do
 * (their agents' inventories, and prepulls that just answered `ok`), and one `prepull` reservation at a time
 * per device for the next image it lacks.
 */

/** What the prepuller sees of one device. */
interface NodeView {
  device: Device;
  eligible: boolean;
  comment?: string;
  cached: DeviceImage[];
  pulling?: string;
}

/** Images wanted on every eligible device: the recommended one and the menu (never the dropdown). */
const wanted = (config: LabConfig) => [
  { reference: config.images.recommended, name: "Recommended" },
  ...config.images.menu.filter((m) => m.reference !== config.images.recommended),
];

/** Why a device takes no lab images, or undefined when it should hold them all. */
function ineligibility(d: Device, config: LabConfig, now: Date, ttlSeconds: number): string | undefined {
  if (deviceStatus(d.lastSeenAt, now, ttlSeconds) !== "online") return "offline";
  const why = disqualification(d, {
    gpus: { count: 0 },
    queues: config.queues,
    constraints: config.placementConstraints,
    container: true,
  });
  if (!why) return undefined;
  if (why.startsWith("no container runtime"))
    return d.info.containerRuntime ? "containers disabled on this agent" : "no container runtime";
  return why;
}

/** Every device of the workspace as the prepuller sees it, with what it holds and what it is pulling. */
async function nodes(deps: JobDeps, ws: string, config: LabConfig, state: PrepullState | undefined) {
  const now = deps.clock.now();
  const out: NodeView[] = [];
  for (const device of await deps.repos.devices.listAll(ws)) {
    const comment = ineligibility(device, config, now, deps.config.deviceTtlSeconds);
    const cached = [...(device.info.images ?? [])];
    // A prepull that answered ok counts until the device's next inventory speaks for itself.
    for (const [reference, at] of Object.entries(state?.marked[device.id] ?? {}))
      if (at >= device.updatedAt && !hasImage(cached, reference)) cached.push({ reference });
    // Read only while a prepull is in flight on the device (none once every device has every image).
    const flight = state?.inFlight[device.id];
    let pulling: string | undefined;
    if (flight) {
      const r = await deps.repos.reservations.get(device.id, flight.reservationId);
      if (r?.result?.state === "ok" && !hasImage(cached, flight.image))
        cached.push({ reference: flight.image });
      if (r && !r.result && r.state !== "deleted" && r.state !== "expired") pulling = flight.image;
    }
    out.push({
      device,
      eligible: !comment,
      ...(comment ? { comment } : {}),
      cached,
      ...(pulling ? { pulling } : {}),
    });
  }
  return out;
}

/** What the form shows of an image without a name: its tag (a process lab's "image" is a path: its last part). */
const nameOf = (reference: string) =>
  tagOf(reference) === "latest" && !reference.endsWith(":latest")
    ? (reference.split("/").at(-1) ?? reference)
    : tagOf(reference);

const imageOf = (reference: string, name: string | undefined, prepulled: boolean, digest?: string) => ({
  reference,
  tag: tagOf(reference),
  name: name ?? nameOf(reference),
  ...(digest ? { digest } : {}),
  aliases: [],
  prepulled,
});

/** Nublado's menu rules: the recommended image first, whatever else; other menu images once on every eligible device. */
function menuOf(config: LabConfig, fleet: NodeView[]): LabImages {
  const eligible = fleet.filter((n) => n.eligible);
  const process = config.runtime === "process";
  const everywhere = (reference: string) =>
    process || (eligible.length > 0 && eligible.every((n) => hasImage(n.cached, reference)));
  const digest = (reference: string) =>
    eligible.map((n) => hasImage(n.cached, reference)?.digest).find(Boolean);
  const recommended = imageOf(
    config.images.recommended,
    config.images.menu.find((m) => m.reference === config.images.recommended)?.name ?? "Recommended",
    everywhere(config.images.recommended),
    digest(config.images.recommended),
  );
  const menu = config.images.menu
    .filter((m) => m.reference !== config.images.recommended && everywhere(m.reference))
    .map((m) => imageOf(m.reference, m.name, true, digest(m.reference)));
  const dropdown = config.images.dropdown.map((m) =>
    imageOf(m.reference, m.name, everywhere(m.reference), digest(m.reference)),
  );
  const all = [
    recommended,
    ...config.images.menu
      .filter((m) => m.reference !== config.images.recommended)
      .map((m) => imageOf(m.reference, m.name, everywhere(m.reference), digest(m.reference))),
    ...dropdown,
  ];
  return { recommended, menu: [recommended, ...menu], dropdown, all };
}

/** `GET /api/v1/labs/images`: the spawn form's images. */
export async function labImages(deps: JobDeps, ws: string): Promise<LabImages> {
  const config = await enabledConfig(deps, ws);
  return menuOf(config, await nodes(deps, ws, config, await deps.repos.labs.prepullState(ws)));
}

/** `GET /api/v1/labs/options`: the menu, the sizes with what they take, the default size, the caller's quota. */
export async function labOptions(deps: JobDeps, user: UserPrincipal): Promise<LabOptionsView> {
  const ws = user.workspaceId;
  const config = await enabledConfig(deps, ws);
  const quota = labQuotaOf(config, await deps.repos.labs.quota(ws, user.name));
  const sizes: LabOptionsView["sizes"] = [];
  for (const name of config.sizes) {
    const p = await deps.repos.profiles.get(ws, name);
    if (!p) continue; // deleted since the config was written: not offered
    const r = profileResources(p);
    sizes.push({
      name: p.name,
      displayName: p.displayName,
      ...(r.cpu ? { cpu: r.cpu } : {}),
      ...(r.memoryGiB ? { memoryGiB: r.memoryGiB } : {}),
      gpus: r.gpus,
      fits: quota.spawn && r.cpu <= quota.cpu && r.memoryGiB <= quota.memoryGiB && r.gpus <= quota.gpus,
    });
  }
  return {
    images: await labImages(deps, ws),
    allowOtherImages: config.images.allowOtherImages,
    sizes,
    defaultSize: config.defaultSize,
    quota,
    runtime: config.runtime,
  };
}

/** `GET /api/v1/labs/prepulls`: Nublado's `PrepullerStatus`. */
export async function prepullerStatus(deps: JobDeps, ws: string): Promise<PrepullerStatus> {
  const config = await enabledConfig(deps, ws);
  const fleet = await nodes(deps, ws, config, await deps.repos.labs.prepullState(ws));
  const eligible = fleet.filter((n) => n.eligible);
  const images = wanted(config).map((w) => {
    const have = eligible.filter((n) => hasImage(n.cached, w.reference));
    const found = have.map((n) => hasImage(n.cached, w.reference)!).find((i) => i.digest);
    return {
      reference: w.reference,
      tag: tagOf(w.reference),
      name: w.name ?? nameOf(w.reference),
      ...(found?.digest ? { digest: found.digest } : {}),
      ...(found?.sizeBytes ? { size: found.sizeBytes } : {}),
      nodes: have.map((n) => n.device.name),
      missing: eligible.filter((n) => !hasImage(n.cached, w.reference)).map((n) => n.device.name),
    };
  });
  return {
    config: config.images.prepull,
    images: {
      prepulled: images.filter((i) => i.missing.length === 0 && eligible.length > 0),
      pending: images.filter((i) => i.missing.length > 0 || eligible.length === 0),
    },
    nodes: fleet.map((n) => ({
      name: n.device.name,
      id: n.device.id,
      eligible: n.eligible,
      ...(n.comment ? { comment: n.comment } : {}),
      cached: n.cached.map((i) => i.reference),
      ...(n.pulling ? { pulling: n.pulling } : {}),
    })),
  };
}

/**
 * One prepuller round in a workspace, when `refreshSeconds` have passed since the last (taken with a
 * conditional write: one round across processes): a prepull that answered is recorded (ok: the image is
 * marked present; error or expiry: retried next round), and each eligible device lacking a wanted image,
 * with nothing in flight, gets one `prepull` reservation for the next image it lacks.
 */
export async function prepullRound(deps: JobDeps, ws: string, config: StoredLabConfig): Promise<number> {
  const prepull = config.images.prepull;
  if (!config.enabled || !prepull.enabled || config.runtime === "process") return 0;
  const now = deps.clock.now();
  const state = await deps.repos.labs.prepullState(ws);
  if (state && now.getTime() - Date.parse(state.lastRunAt) < prepull.refreshSeconds * 1000) return 0;
  const next: PrepullState = {
    lastRunAt: now.toISOString(),
    inFlight: { ...state?.inFlight },
    marked: { ...state?.marked },
    v: (state?.v ?? 0) + 1,
  };
  // Taken first: another process's round at the same moment finds it taken and does nothing.
  if (!(await deps.repos.labs.putPrepullState(ws, next, state?.v))) return 0;
  const fleet = await nodes(deps, ws, config, state);
  let started = 0;
  for (const n of fleet) {
    const flight = next.inFlight[n.device.id];
    if (flight) {
      const r = await deps.repos.reservations.get(n.device.id, flight.reservationId);
      if (r && !r.result && r.state !== "deleted" && r.state !== "expired") continue; // still pulling
      if (r?.result?.state === "ok")
        next.marked[n.device.id] = { ...next.marked[n.device.id], [flight.image]: now.toISOString() };
      delete next.inFlight[n.device.id];
    }
    if (!n.eligible) continue;
    const missing = wanted(config).find((w) => !hasImage(n.cached, w.reference));
    if (!missing) continue;
    const r = await prepullOn(deps, n.device, missing.reference, prepull.timeoutSeconds);
    if (r) {
      next.inFlight[n.device.id] = { image: missing.reference, reservationId: r.id };
      started++;
    }
  }
  // Devices gone from the workspace take their bookkeeping with them.
  const ids = new Set(fleet.map((n) => n.device.id));
  for (const id of Object.keys(next.marked)) if (!ids.has(id)) delete next.marked[id];
  for (const id of Object.keys(next.inFlight)) if (!ids.has(id)) delete next.inFlight[id];
  const saved = await deps.repos.labs.putPrepullState(ws, { ...next, v: next.v + 1 }, next.v);
  if (!saved) deps.logger.warn("the prepuller's state changed during its round", { workspaceId: ws });
  if (started > 0) deps.logger.info("prepulls started", { workspaceId: ws, count: started });
  return started;
}

async function prepullOn(deps: JobDeps, device: Device, image: string, timeoutSeconds: number) {
  const r: Reservation = newReservation(deps, {
    id: newId(),
    nodeId: device.id,
    workspaceId: device.workspaceId,
    user: "prepuller",
    type: "prepull",
    data: { image },
    duration: timeoutSeconds,
  });
  const placed = await placeReservation(deps, r);
  return placed.ok ? placed.reservation : undefined;
}

/**
 * The sweeper's lab work: spawns that wait for capacity past their timeout (placed ones are in sweepJobs'
 * active jobs), and a prepuller round in each workspace with a lab config.
 */
export async function sweepLabs(deps: JobDeps): Promise<{ prepulls: number }> {
  let prepulls = 0;
  for (const ws of await deps.repos.jobs.workspacesWithPending())
    for (const job of await deps.repos.jobs.pending(ws, 500))
      if (job.lab && !job.deviceId) await sweepLabJob(deps, job);
  for (const ws of await deps.repos.labs.configured(1000)) {
    const config = await deps.repos.labs.config(ws);
    if (!config) continue;
    try {
      prepulls += await prepullRound(deps, ws, config);
    } catch (err) {
      deps.logger.warn("a prepuller round failed", { workspaceId: ws, error: (err as Error).message });
    }
  }
  return { prepulls };
}
