import type { Publisher } from "@heliograph/contracts";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { AdminError, adminCall, storedToken, storeToken } from "./admin-api.js";
import { HaltsPage } from "./halts.js";
import { LiveTailPage } from "./live-tail.js";
import { ParkedPage } from "./parked.js";
import { SequencersPage } from "./sequencers.js";
import { StreamDetail, StreamsPage } from "./streams.js";
import { TenantsPage } from "./tenants.js";
import { ErrorNote } from "./widgets.js";

const PAGES = ["Streams", "Halts", "Parked", "Tenants", "Sequencers", "Live tail"] as const;
type Page = (typeof PAGES)[number];

/** `#streams`, `#streams/<id>`, `#halts`, … so a page can be linked and the back button works. */
function fromHash(): { page: Page; streamId?: string } {
  const [name, id] = decodeURIComponent(location.hash.slice(1)).split("/");
  const page = PAGES.find((p) => p.toLowerCase().replace(" ", "-") === name) ?? "Streams";
  return id ? { page, streamId: id } : { page };
}
const toHash = (page: Page, streamId?: string) =>
  `#${page.toLowerCase().replace(" ", "-")}${streamId ? `/${encodeURIComponent(streamId)}` : ""}`;

function Login({ onToken }: { onToken: (token: string) => void }) {
  const [error, setError] = useState<AdminError | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main>
      <h1>Heliograph console</h1>
      <form
        aria-label="Sign in"
        onSubmit={async (e) => {
          e.preventDefault();
          const token = String(new FormData(e.currentTarget).get("token") ?? "").trim();
          setBusy(true);
          try {
            // Any admin call tells whether the token is good.
            await adminCall<Publisher[]>(token, "GET", "/publishers");
            onToken(token);
          } catch (err) {
            setError(err instanceof AdminError ? err : new AdminError(0, "FAILED", String(err)));
          } finally {
            setBusy(false);
          }
        }}
      >
        <p>The admin token (ADMIN_TOKEN of the ingest gateway). It is kept in this tab only.</p>
        <label>
          Admin token
          <input name="token" type="password" autoComplete="off" required autofocus />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}

function App() {
  const [token, setToken] = useState<string | null>(storedToken());
  const [route, setRoute] = useState(fromHash());
  useEffect(() => {
    const onHash = () => setRoute(fromHash());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  if (token === null)
    return (
      <Login
        onToken={(t) => {
          storeToken(t);
          setToken(t);
        }}
      />
    );
  const go = (page: Page, streamId?: string) => {
    location.hash = toHash(page, streamId);
  };
  return (
    <>
      <header>
        <h1>Heliograph</h1>
        <nav aria-label="Sections">
          {PAGES.map((p) => (
            <button key={p} type="button" aria-current={route.page === p ? "page" : undefined} onClick={() => go(p)}>
              {p}
            </button>
          ))}
        </nav>
        <button
          type="button"
          onClick={() => {
            storeToken(null);
            setToken(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {route.page === "Streams" &&
          (route.streamId ? (
            <StreamDetail token={token} streamId={route.streamId} back={() => go("Streams")} />
          ) : (
            <StreamsPage token={token} open={(id) => go("Streams", id)} />
          ))}
        {route.page === "Halts" && <HaltsPage token={token} />}
        {route.page === "Parked" && <ParkedPage token={token} open={(id) => go("Streams", id)} />}
        {route.page === "Tenants" && <TenantsPage token={token} />}
        {route.page === "Sequencers" && <SequencersPage token={token} />}
        {route.page === "Live tail" && (
          <LiveTailPage token={token} {...(route.streamId ? { initial: route.streamId } : {})} />
        )}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
