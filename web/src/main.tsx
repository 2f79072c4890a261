import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, ok, onSignedOut, session, signInMessage } from "./api.ts";
import { PAGES } from "./pages/index.ts";
import { match, useLocation } from "./router.ts";
import "./style.css";
import { ErrorNote, Field, Link, Loading } from "./ui.tsx";
import { type Who, WhoContext } from "./who.ts";

/** The sign-in form: an API key, checked against /whoami, kept for this tab only. */
function SignIn({ onIn }: { onIn: (who: Who) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<ApiError | undefined>(
    signInMessage ? new ApiError(401, "Unauthorized", signInMessage) : undefined,
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    session.signIn(key.trim());
    try {
      onIn(await ok(api.whoami.$get()));
    } catch (err) {
      session.signOut();
      setError(err as ApiError);
    }
  };
  return (
    <main class="signin">
      <h1>Berth</h1>
      <form onSubmit={submit}>
        <Field label="API key" hint="npm start prints the admin key; npx berth keys create makes others">
          <input
            type="password"
            autoComplete="off"
            required
            value={key}
            placeholder="berth_sk_..."
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Sign in</button>
      </form>
      <ErrorNote error={error} />
      <p class="muted">The key stays in this tab (session storage) and is sent only to this server.</p>
    </main>
  );
}

function Shell({ who, signOut }: { who: Who; signOut: () => void }) {
  const { path, query } = useLocation();
  let found: { page: (typeof PAGES)[number]; params: Record<string, string> } | undefined;
  for (const page of PAGES) {
    const params = match(page.path, path);
    if (params) {
      found = { page, params };
      break;
    }
  }
  useEffect(() => {
    document.title = found ? `${found.page.title} · Berth` : "Berth";
  }, [found?.page]);
  const Component = found?.page.component;
  return (
    <WhoContext.Provider value={who}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">Berth</span>
        <nav aria-label="pages">
          {PAGES.filter((p) => p.nav && (!p.admin || who.role === "admin")).map((p) => (
            <Link key={p.path} to={p.path} class={found?.page === p ? "current" : undefined}>
              {p.title}
            </Link>
          ))}
        </nav>
        <span class="who">
          {who.name} ({who.role}) · {who.workspaceId}{" "}
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main">
        {found && found.page.path !== "/jobs/:id" ? <h1>{found.page.title}</h1> : null}
        {/* Admin pages are left out of a member's navigation; opened anyway, the API answers (403). */}
        {Component ? (
          <Component params={found!.params} query={query} />
        ) : (
          <ErrorNote error={{ message: `No page at ${path}.`, code: "NotFound" }} />
        )}
      </main>
    </WhoContext.Provider>
  );
}

function App() {
  const [who, setWho] = useState<Who | null | undefined>(session.key() ? undefined : null);
  const [startError, setStartError] = useState<ApiError>();
  const start = () => {
    setStartError(undefined);
    // A 401 signs out (api.ts); anything else (the server restarting, the network) keeps the key: try again.
    ok(api.whoami.$get()).then(setWho, (err: ApiError) => {
      if (err.status !== 401) setStartError(err);
    });
  };
  useEffect(() => {
    if (who === undefined) start();
    return onSignedOut(() => setWho(null));
  }, []);
  if (who === undefined)
    return startError ? (
      <main class="signin">
        <ErrorNote error={startError} />
        <button type="button" onClick={start}>
          Try again
        </button>
      </main>
    ) : (
      <Loading />
    );
  if (who === null) return <SignIn onIn={setWho} />;
  return <Shell who={who} signOut={() => session.signOut()} />;
}

render(<App />, document.getElementById("app")!);
