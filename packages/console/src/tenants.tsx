import type {
  Algorithm,
  IdeaChannel,
  Publisher,
  PublisherCredentials,
  Resource,
  Subscriber,
  SubscriberCredentials,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookEndpointCreated,
  WebhookEndpointDetail,
} from "@heliograph/contracts";
import { useState } from "preact/hooks";
import { AdminError } from "./admin-api.js";
import { ConfirmButton, ErrorNote, Json, ShownOnce, useAdminAction, useAdminData, when } from "./widgets.js";

type Shown = { title: string; values: [string, string][] } | undefined;

/** Form fields by name, as strings (empty ones left out). */
function fieldsOf(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of new FormData(form))
    if (typeof value === "string" && value.trim() !== "") out[name] = value.trim();
  return out;
}

function PublishersTab({ token }: { token: string }) {
  const { data, error, reload } = useAdminData<Publisher[]>(token, "/publishers");
  const action = useAdminAction(token, reload);
  const [shown, setShown] = useState<Shown>(undefined);
  const showCredentials = (title: string, c: PublisherCredentials | undefined) =>
    c &&
    setShown({
      title,
      values: [
        ["API key", c.api_key],
        ["API secret", c.api_secret],
      ],
    });
  return (
    <>
      <form
        class="row"
        aria-label="Create a publisher"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const created = await action.run<PublisherCredentials>("POST", "/publishers", fieldsOf(form));
          if (created) form.reset();
          showCredentials(`New publisher ${created?.id}`, created);
        }}
      >
        <label>
          Publisher name
          <input name="name" required />
        </label>
        <label>
          Publisher id (optional)
          <input name="id" pattern="[a-z0-9][a-z0-9_\-]{0,63}" />
        </label>
        <button type="submit">Create publisher</button>
      </form>
      {shown && <ShownOnce {...shown} onDismiss={() => setShown(undefined)} />}
      <ErrorNote error={action.error ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Publisher</th>
            <th scope="col">Name</th>
            <th scope="col">API key</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((p) => (
            <tr key={p.id}>
              <th scope="row">
                <code>{p.id}</code>
              </th>
              <td>{p.name}</td>
              <td>
                <code>{p.api_key}</code>
              </td>
              <td>{p.status}</td>
              <td>{when(p.created_at)}</td>
              <td class="row">
                <ConfirmButton
                  label="Rotate secret"
                  ariaLabel={`Rotate the secret of publisher ${p.id}`}
                  title={`Rotate the secret of ${p.id}?`}
                  confirmLabel="Rotate"
                  onConfirm={async () =>
                    showCredentials(
                      `New credentials of ${p.id}`,
                      await action.run<PublisherCredentials>("POST", `/publishers/${p.id}/rotate-secret`),
                    )
                  }
                >
                  <p>A new API key and secret are issued; the old ones stop working at once.</p>
                </ConfirmButton>
                <ConfirmButton
                  label="Revoke"
                  ariaLabel={`Revoke publisher ${p.id}`}
                  title={`Revoke ${p.id}?`}
                  confirmLabel="Revoke"
                  danger
                  onConfirm={async () => void (await action.run("POST", `/publishers/${p.id}/revoke`))}
                >
                  <p>Its key is refused everywhere within a second; rotating issues a working one again.</p>
                </ConfirmButton>
                <ConfirmButton
                  label="Delete"
                  ariaLabel={`Delete publisher ${p.id}`}
                  title={`Delete ${p.id}?`}
                  confirmLabel="Delete"
                  danger
                  onConfirm={async () => void (await action.run("DELETE", `/publishers/${p.id}`))}
                >
                  <p>The publisher and its key go; its resources, algorithms, channels and streams stay.</p>
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ResourcesTab({ token }: { token: string }) {
  const { data, error, reload } = useAdminData<Resource[]>(token, "/resources");
  const action = useAdminAction(token, reload);
  return (
    <>
      <form
        aria-label="Create a resource"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const { key_value_type_pairs: pairs = "{}", id, ...rest } = fieldsOf(form);
          let parsed: unknown;
          try {
            parsed = JSON.parse(pairs);
          } catch (err) {
            action.setError(new AdminError(0, "NOT_JSON", `The key schema is not JSON: ${(err as Error).message}`));
            return;
          }
          const body = { ...rest, ...(id ? { id: Number(id) } : {}), key_value_type_pairs: parsed };
          if (await action.run("POST", "/resources", body)) form.reset();
        }}
      >
        <div class="row">
          <label>
            Publisher id
            <input name="publisher_id" required />
          </label>
          <label>
            Resource title
            <input name="title" required />
          </label>
          <label>
            Resource id (optional)
            <input name="id" inputMode="numeric" pattern="[0-9]+" />
          </label>
        </div>
        <label style="display:flex">
          Key schema (key_value_type_pairs, JSON)
          <textarea name="key_value_type_pairs" required placeholder='{"Symbol":"STRING","Price":"NUMBER"}' />
        </label>
        <button type="submit">Create resource</button>
      </form>
      <ErrorNote error={action.error ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Resource</th>
            <th scope="col">Title</th>
            <th scope="col">Publisher</th>
            <th scope="col">Key schema</th>
            <th scope="col">Stream</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((r) => (
            <tr key={r.id}>
              <th scope="row">{r.id}</th>
              <td>{r.title}</td>
              <td>{r.publisher_id}</td>
              <td>
                <Json value={r.key_value_type_pairs} />
              </td>
              <td>
                <code>{r.stream_id}</code>
              </td>
              <td>
                <DeleteButton
                  action={action}
                  what={`resource ${r.id}`}
                  path={`/resources/${r.id}`}
                  stream={r.stream_id}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Deletes what feeds a stream (a resource, an algorithm, a channel), after a confirmation; the stream stays. */
function DeleteButton(props: {
  action: ReturnType<typeof useAdminAction>;
  what: string;
  path: string;
  stream: string;
}) {
  return (
    <ConfirmButton
      label="Delete"
      ariaLabel={`Delete ${props.what}`}
      title={`Delete ${props.what}?`}
      confirmLabel="Delete"
      danger
      onConfirm={async () => void (await props.action.run("DELETE", props.path))}
    >
      <p>
        Publishes to it are refused from now on. Its stream <code>{props.stream}</code> stays readable: its events, the
        entitlements and webhook endpoints that name it. Created again with the same id, it continues that stream.
      </p>
    </ConfirmButton>
  );
}

function SimpleTab<T extends { stream_id: string; publisher_id: string; created_at: string }>(props: {
  token: string;
  path: "/algorithms" | "/channels";
  noun: string;
  fields: { name: string; label: string; required?: boolean; numeric?: boolean }[];
  rowId: (row: T) => string;
  rowName: (row: T) => string;
}) {
  const { data, error, reload } = useAdminData<T[]>(props.token, props.path);
  const action = useAdminAction(props.token, reload);
  return (
    <>
      <form
        class="row"
        aria-label={`Create ${props.noun}`}
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const raw = fieldsOf(form);
          const body = Object.fromEntries(
            Object.entries(raw).map(([k, v]) => [k, props.fields.find((f) => f.name === k)?.numeric ? Number(v) : v]),
          );
          if (await action.run("POST", props.path, body)) form.reset();
        }}
      >
        {props.fields.map((f) => (
          <label key={f.name}>
            {f.label}
            <input
              name={f.name}
              required={f.required}
              {...(f.numeric ? { inputMode: "numeric", pattern: "[0-9]+" } : {})}
            />
          </label>
        ))}
        <button type="submit">Create {props.noun}</button>
      </form>
      <ErrorNote error={action.error ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Name</th>
            <th scope="col">Publisher</th>
            <th scope="col">Stream</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((row) => (
            <tr key={props.rowId(row)}>
              <th scope="row">{props.rowId(row)}</th>
              <td>{props.rowName(row)}</td>
              <td>{row.publisher_id}</td>
              <td>
                <code>{row.stream_id}</code>
              </td>
              <td>{when(row.created_at)}</td>
              <td>
                <DeleteButton
                  action={action}
                  what={`${props.noun} ${props.rowId(row)}`}
                  path={`${props.path}/${props.rowId(row)}`}
                  stream={row.stream_id}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const streamList = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

function SubscribersTab({ token }: { token: string }) {
  const { data, error, reload } = useAdminData<Subscriber[]>(token, "/subscribers");
  const action = useAdminAction(token, reload);
  const [shown, setShown] = useState<Shown>(undefined);
  const showToken = (title: string, c: SubscriberCredentials | undefined) =>
    c && setShown({ title, values: [["Bearer token", c.token]] });
  return (
    <>
      <form
        class="row"
        aria-label="Create a subscriber"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const { streams = "", ...rest } = fieldsOf(form);
          const created = await action.run<SubscriberCredentials>("POST", "/subscribers", {
            ...rest,
            streams: streamList(streams),
          });
          if (created) form.reset();
          showToken(`New subscriber ${created?.id}`, created);
        }}
      >
        <label>
          Subscriber name
          <input name="name" required />
        </label>
        <label>
          Subscriber id (optional)
          <input name="id" />
        </label>
        <label>
          Entitled streams (comma-separated)
          <input name="streams" />
        </label>
        <button type="submit">Create subscriber</button>
      </form>
      {shown && <ShownOnce {...shown} onDismiss={() => setShown(undefined)} />}
      <ErrorNote error={action.error ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Subscriber</th>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Entitlements</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((s) => (
            <tr key={s.id}>
              <th scope="row">
                <code>{s.id}</code>
              </th>
              <td>{s.name}</td>
              <td>{s.status}</td>
              <td>
                <form
                  class="row"
                  onSubmit={async (e) => {
                    e.preventDefault();
                    await action.run("PUT", `/subscribers/${s.id}/streams`, {
                      streams: streamList(fieldsOf(e.currentTarget).streams ?? ""),
                    });
                  }}
                >
                  <label>
                    Streams of {s.id}
                    <input name="streams" defaultValue={s.streams.join(", ")} />
                  </label>
                  <button type="submit" aria-label={`Save the entitlements of ${s.id}`}>
                    Save
                  </button>
                </form>
              </td>
              <td class="row">
                <ConfirmButton
                  label="Rotate token"
                  ariaLabel={`Rotate the token of subscriber ${s.id}`}
                  title={`Rotate the token of ${s.id}?`}
                  confirmLabel="Rotate"
                  onConfirm={async () =>
                    showToken(
                      `New token of ${s.id}`,
                      await action.run<SubscriberCredentials>("POST", `/subscribers/${s.id}/rotate-token`),
                    )
                  }
                >
                  <p>The old token is refused within a second and its held long polls end.</p>
                </ConfirmButton>
                <ConfirmButton
                  label="Revoke"
                  ariaLabel={`Revoke subscriber ${s.id}`}
                  title={`Revoke ${s.id}?`}
                  confirmLabel="Revoke"
                  danger
                  onConfirm={async () => void (await action.run("POST", `/subscribers/${s.id}/revoke`))}
                >
                  <p>Its token is refused within a second; entitlements are kept.</p>
                </ConfirmButton>
                <ConfirmButton
                  label="Delete"
                  ariaLabel={`Delete subscriber ${s.id}`}
                  title={`Delete ${s.id}?`}
                  confirmLabel="Delete"
                  danger
                  onConfirm={async () => void (await action.run("DELETE", `/subscribers/${s.id}`))}
                >
                  <p>The subscriber, its token and entitlements go.</p>
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Delivery moves on its own (the dispatcher delivers, retries, pauses), so the tab follows it. */
const WEBHOOK_REFRESH_MS = 2_000;

function WebhookRow({
  token,
  endpoint,
  changed,
  show,
}: {
  token: string;
  endpoint: WebhookEndpoint;
  changed: () => void;
  show: (s: Shown) => void;
}) {
  const detail = useAdminData<WebhookEndpointDetail>(token, `/webhooks/${endpoint.id}`, WEBHOOK_REFRESH_MS);
  const attempts = useAdminData<WebhookAttempt[]>(token, `/webhooks/${endpoint.id}/attempts`, WEBHOOK_REFRESH_MS);
  const action = useAdminAction(token, () => {
    changed();
    detail.reload();
    attempts.reload();
  });
  const [from, setFrom] = useState("0");
  const id = endpoint.id;
  return (
    <tr>
      <th scope="row">
        <code>{id}</code>
      </th>
      <td>
        <code>{endpoint.stream_id}</code> → {endpoint.url}
        <div class="muted">subscriber {endpoint.subscriber_id}</div>
      </td>
      <td>
        <span data-webhook-status={id}>{endpoint.status}</span>
        {endpoint.last_error && <div class="error">{endpoint.last_error}</div>}
        <div class="muted">delivered up to {detail.data?.position ?? "…"}</div>
        {attempts.data && attempts.data.length > 0 && (
          <details>
            <summary>Last attempts</summary>
            <Json value={attempts.data.slice(0, 10)} />
          </details>
        )}
      </td>
      <td>
        <div class="row">
          {endpoint.status === "active" ? (
            <button
              type="button"
              aria-label={`Pause webhook ${id}`}
              onClick={() => action.run("POST", `/webhooks/${id}/pause`)}
            >
              Pause
            </button>
          ) : (
            <button
              type="button"
              aria-label={`Resume webhook ${id}`}
              onClick={() => action.run("POST", `/webhooks/${id}/resume`)}
            >
              Resume
            </button>
          )}
          <ConfirmButton
            label="Rotate secret"
            ariaLabel={`Rotate the signing secret of webhook ${id}`}
            title={`Rotate the signing secret of ${id}?`}
            confirmLabel="Rotate"
            onConfirm={async () => {
              const created = await action.run<WebhookEndpointCreated>("POST", `/webhooks/${id}/rotate-secret`, {});
              if (created) show({ title: `New signing secret of ${id}`, values: [["Signing secret", created.secret]] });
            }}
          >
            <p>For a day, deliveries carry a signature with the old secret too.</p>
          </ConfirmButton>
          <ConfirmButton
            label="Delete"
            ariaLabel={`Delete webhook ${id}`}
            title={`Delete ${id}?`}
            confirmLabel="Delete"
            danger
            onConfirm={async () => void (await action.run("DELETE", `/webhooks/${id}`))}
          >
            <p>The endpoint, its position and its delivery log go; deliveries stop within seconds.</p>
          </ConfirmButton>
        </div>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run("POST", `/webhooks/${id}/replay`, { from: Number(from) });
          }}
        >
          <label>
            Replay {id} from event
            <input value={from} inputMode="numeric" pattern="[0-9]+" onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <button type="submit" aria-label={`Replay webhook ${id}`}>
            Replay
          </button>
        </form>
        <ErrorNote error={action.error} />
      </td>
    </tr>
  );
}

function WebhooksTab({ token }: { token: string }) {
  const { data, error, reload } = useAdminData<WebhookEndpoint[]>(token, "/webhooks", WEBHOOK_REFRESH_MS);
  const action = useAdminAction(token, reload);
  const [shown, setShown] = useState<Shown>(undefined);
  return (
    <>
      <form
        class="row"
        aria-label="Register a webhook endpoint"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const { from, ...rest } = fieldsOf(form);
          const created = await action.run<WebhookEndpointCreated>("POST", "/webhooks", {
            ...rest,
            ...(from ? { from: Number(from) } : {}),
          });
          if (created) {
            form.reset();
            setShown({ title: `New webhook endpoint ${created.id}`, values: [["Signing secret", created.secret]] });
          }
        }}
      >
        <label>
          Subscriber id
          <input name="subscriber_id" required />
        </label>
        <label>
          Stream id
          <input name="stream_id" required />
        </label>
        <label>
          Endpoint URL
          <input name="url" type="url" required />
        </label>
        <label>
          From event (optional)
          <input name="from" inputMode="numeric" pattern="[0-9]+" />
        </label>
        <button type="submit">Register webhook</button>
      </form>
      {shown && <ShownOnce {...shown} onDismiss={() => setShown(undefined)} />}
      <ErrorNote error={action.error ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">Stream and URL</th>
            <th scope="col">Delivery</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((w) => (
            <WebhookRow key={w.id} token={token} endpoint={w} changed={reload} show={setShown} />
          ))}
        </tbody>
      </table>
    </>
  );
}

const TABS = ["Publishers", "Resources", "Algorithms", "Channels", "Subscribers", "Webhooks"] as const;
type Tab = (typeof TABS)[number];

export function TenantsPage({ token }: { token: string }) {
  const [tab, setTab] = useState<Tab>("Publishers");
  return (
    <section aria-labelledby="tenants-heading">
      <h2 id="tenants-heading">Tenants</h2>
      <nav aria-label="Tenant sections" class="row">
        {TABS.map((t) => (
          <button key={t} type="button" aria-current={tab === t ? "page" : undefined} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </nav>
      <h3>{tab}</h3>
      {tab === "Publishers" && <PublishersTab token={token} />}
      {tab === "Resources" && <ResourcesTab token={token} />}
      {tab === "Algorithms" && (
        <SimpleTab<Algorithm>
          token={token}
          path="/algorithms"
          noun="algorithm"
          fields={[
            { name: "publisher_id", label: "Publisher id", required: true },
            { name: "name", label: "Algorithm name", required: true },
            { name: "id", label: "Algorithm id (optional)", numeric: true },
          ]}
          rowId={(a) => String(a.id)}
          rowName={(a) => a.name}
        />
      )}
      {tab === "Channels" && (
        <SimpleTab<IdeaChannel>
          token={token}
          path="/channels"
          noun="channel"
          fields={[
            { name: "id", label: "Channel id", required: true },
            { name: "publisher_id", label: "Publisher id", required: true },
            { name: "title", label: "Channel title", required: true },
          ]}
          rowId={(c) => c.id}
          rowName={(c) => c.title}
        />
      )}
      {tab === "Subscribers" && <SubscribersTab token={token} />}
      {tab === "Webhooks" && <WebhooksTab token={token} />}
    </section>
  );
}
