import { useEffect, useState } from "preact/hooks";
import { ApiError, api, FollowedElsewhere, follow, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Action, ErrorNote, Field, Loaded, Status } from "../ui.tsx";
import { useWho } from "../who.ts";

interface LabEvent {
  key: string;
  type: string;
  message: string;
  progress?: number;
}

/**
 * The lab's current operation, followed live (Nublado's events: info, error, failed, complete) with a
 * progress bar; `onEnd` when it completes or fails. `generation` starts a new follow (a new spawn or delete).
 */
function Progress(props: { user: string; generation: number; onEnd: () => void }) {
  const [events, setEvents] = useState<LabEvent[]>([]);
  const [lost, setLost] = useState<string>();
  useEffect(() => {
    const stop = new AbortController();
    setEvents([]);
    follow(
      `/labs/${encodeURIComponent(props.user)}/events`,
      (e) => {
        const data = JSON.parse(e.data) as { message: string; progress?: number };
        setEvents((l) => [...l, { key: e.id ?? String(l.length), type: e.event, ...data }]);
        if (e.event === "complete" || e.event === "failed") props.onEnd();
      },
      {
        signal: stop.signal,
        endOn: ["complete", "failed"],
        onConnection: (up, why) => setLost(up ? undefined : why),
      },
    ).catch((err: Error) => {
      // No operation to follow (404), or a host that holds no streams: the status says the rest.
      if (!(err instanceof FollowedElsewhere) && !(err instanceof ApiError && err.status === 404))
        setLost(err.message);
    });
    return () => stop.abort();
  }, [props.user, props.generation]);
  if (events.length === 0 && !lost) return null;
  const progress = [...events].reverse().find((e) => e.progress !== undefined)?.progress ?? 0;
  const last = events.at(-1);
  const done = last?.type === "complete" ? 100 : progress;
  return (
    <section aria-labelledby="progress">
      <h2 id="progress">Progress</h2>
      <div class="bar-row">
        <span class="bar-label">
          {last?.type === "failed" ? "Failed" : done === 100 ? "Done" : "Working"}
        </span>
        <meter class="bar" aria-label="lab progress" min={0} max={100} value={done} />
        <span class="bar-value">{done}%</span>
      </div>
      {lost ? <p class="muted">Reconnecting: {lost}</p> : null}
      <ol class="events" aria-label="lab events" aria-live="polite">
        {events.map((e) => (
          <li key={e.key} class={e.type === "error" || e.type === "failed" ? "error" : undefined}>
            {e.progress !== undefined ? <span class="muted">{e.progress}% </span> : null}
            {e.message}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** The spawn form: the menu's images (recommended first), the dropdown, the sizes (those over quota disabled). */
function SpawnForm({ onSpawned }: { onSpawned: () => void }) {
  const options = useLive(() => ok(api.labs.options.$get()), [], 30_000);
  const [image, setImage] = useState("");
  const [size, setSize] = useState("");
  const [debug, setDebug] = useState(false);
  const [reset, setReset] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  return (
    <Loaded live={options}>
      {(o) => {
        const chosenImage = image || o.images.recommended.reference;
        const chosenSize = size || o.defaultSize;
        const fromDropdown = o.images.dropdown.some((d) => d.reference === chosenImage);
        const submit = async (e: Event) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await ok(
              api.labs.$post({
                json: {
                  // The form's two lists, as Nublado's form sends them.
                  options: {
                    imageList: fromDropdown ? "use_image_from_dropdown" : chosenImage,
                    ...(fromDropdown ? { imageDropdown: chosenImage } : {}),
                    size: chosenSize,
                    enableDebug: debug,
                    resetUserEnv: reset,
                  },
                  env: {},
                },
              }),
            );
            onSpawned();
          } catch (err) {
            setError(err as ApiError);
          } finally {
            setBusy(false);
          }
        };
        return (
          <form class="spawn" onSubmit={submit} aria-label="spawn a lab">
            <Field
              label="Image"
              hint="menu images are on every device already; others are pulled when you spawn"
            >
              <select value={chosenImage} onChange={(e) => setImage(e.currentTarget.value)}>
                <optgroup label="Menu">
                  {o.images.menu.map((i) => (
                    <option key={i.reference} value={i.reference}>
                      {i.name} ({i.reference})
                    </option>
                  ))}
                </optgroup>
                {o.images.dropdown.length ? (
                  <optgroup label="Other images">
                    {o.images.dropdown.map((i) => (
                      <option key={i.reference} value={i.reference}>
                        {i.name} ({i.reference})
                      </option>
                    ))}
                  </optgroup>
                ) : null}
              </select>
            </Field>
            <Field
              label="Size"
              hint={`your quota: ${o.quota.cpu} CPUs, ${o.quota.memoryGiB} GiB, ${o.quota.gpus} GPUs`}
            >
              <select value={chosenSize} onChange={(e) => setSize(e.currentTarget.value)}>
                {o.sizes.map((s) => (
                  <option key={s.name} value={s.name} disabled={!s.fits}>
                    {s.displayName || s.name}: {s.cpu ?? "?"} CPUs, {s.memoryGiB ?? "?"} GiB, {s.gpus} GPUs
                    {s.fits ? "" : " (over your quota)"}
                  </option>
                ))}
              </select>
            </Field>
            <label class="check">
              <input type="checkbox" checked={debug} onChange={(e) => setDebug(e.currentTarget.checked)} />{" "}
              Enable debug logs
            </label>
            <label class="check">
              <input type="checkbox" checked={reset} onChange={(e) => setReset(e.currentTarget.checked)} />{" "}
              Reset user environment
            </label>
            <button type="submit" disabled={busy || !o.quota.spawn}>
              {busy ? "Spawning…" : "Spawn"}
            </button>
            {o.quota.spawn ? null : <p class="muted">Spawning a lab is not permitted for you.</p>}
            <ErrorNote error={error} />
          </form>
        );
      }}
    </Loaded>
  );
}

/**
 * "My lab" (specs/labs.md): the spawn form from the menu while there is no lab, then the lab's live progress,
 * its link once it runs (reachable where your network reaches the device), and delete.
 */
function MyLab() {
  const who = useWho();
  const [generation, setGeneration] = useState(0);
  const lab = useLive(async () => {
    try {
      return await ok(api.labs[":user"].$get({ param: { user: who.name } }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }, [who.name, generation]);
  const again = () => setGeneration((g) => g + 1);
  return (
    <Loaded live={lab}>
      {(l) => {
        const gone = !l || l.status === "failed" || l.status === "terminated";
        return (
          <>
            {l ? (
              <dl class="facts" aria-label="your lab">
                <dt>Status</dt>
                <dd>
                  <Status value={l.status} />
                  {l.operation ? <span class="muted"> ({l.operation} in progress)</span> : null}
                </dd>
                <dt>Image</dt>
                <dd>
                  <code>{l.options.image}</code>
                </dd>
                <dt>Size</dt>
                <dd>
                  {l.options.size}: {l.resources.limits.cpu} CPUs,{" "}
                  {Number((l.resources.limits.memory / 2 ** 30).toFixed(2))} GiB
                </dd>
                <dt>Expires</dt>
                <dd>{new Date(l.expiresAt).toLocaleString()}</dd>
                {l.url && l.status === "running" ? (
                  <>
                    <dt>Lab</dt>
                    <dd>
                      <a href={l.url} target="_blank" rel="noreferrer">
                        Open your lab
                      </a>{" "}
                      <span class="muted">(reachable where your network reaches the device)</span>
                    </dd>
                  </>
                ) : null}
              </dl>
            ) : (
              <p class="muted">You have no lab. Spawn one from the menu.</p>
            )}
            {l && !gone ? (
              <Action
                label="Delete lab"
                danger
                confirm="Delete your lab? Whatever is not saved outside it is lost."
                run={() => ok(api.labs[":user"].$delete({ param: { user: who.name } }))}
                done={again}
              />
            ) : null}
            {l ? <Progress user={who.name} generation={generation} onEnd={() => void lab.refresh()} /> : null}
            {gone ? <SpawnForm onSpawned={again} /> : null}
          </>
        );
      }}
    </Loaded>
  );
}

export const lab: Page = { path: "/lab", title: "My lab", nav: true, component: MyLab };
