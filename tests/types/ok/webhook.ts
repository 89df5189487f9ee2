// A Stripe-style webhook check, an upload with a secret, the cache and the standard library.
export default async function (ctx: jsrt.Context<{ header: string; body: string }>) {
  const parts = Object.fromEntries(ctx.input.header.split(",").map((kv) => kv.split("=")));
  const secret = ctx.secrets.get("stripe_webhook") ?? "";
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const valid = crypto.timingSafeEqual(crypto.hmacSha256(secret, `${parts.t}.${ctx.input.body}`), parts.v1);
  const viaSubtle: boolean = await crypto.subtle.verify("HMAC", key, crypto.sha256("x", "bytes"), ctx.input.body);
  const url = new URL("/v1/invoices", "https://api.example.com");
  url.searchParams.set("since", new Date(0).toISOString());
  try {
    const r = await ctx.http.post(url.href, "a,b\r\n1,2\r\n", { headers: { "Content-Type": "text/csv" }, timeoutMs: 5000 });
    const out: { id: string } = r.json();
    ctx.cache.set("last_invoice", out.id, 600);
  } catch (e) {
    const err = e as jsrt.HttpError;
    ctx.log.warn(err.kind, err.rule ?? "", err.message);
  }
  const rows = ctx.db.query<{ id: number; total: string }>("select id, total from orders where id = $1", [1]);
  const copy = structuredClone({ when: new Date(), ids: rows.map((r) => r.id) });
  const last = ctx.cache.get<string>("last_invoice");
  ctx.events.publish("invoice.exported", { count: rows.length });
  return { valid, viaSubtle, last, copy: copy.ids, id: crypto.randomUUID(), b64: btoa("hi"), raw: atob("aGk=") };
}

// An HTTP endpoint script.
export async function endpoint(ctx: jsrt.Context): Promise<jsrt.Response> {
  const id = Number(ctx.request?.params.id);
  const row = ctx.db.one<{ id: number; total: string }>("select id, total from orders where id = $1", [id]);
  return row ? { status: 200, body: row } : { status: 404, body: { error: "no such order" } };
}

// A webhook checked over the body as sent, answering with two cookies and bytes.
export async function hook(ctx: jsrt.Context): Promise<jsrt.Response | Uint8Array> {
  const req = ctx.request!;
  const sig = req.headers["stripe-signature"] ?? "";
  const ok = crypto.timingSafeEqual(crypto.hmacSha256("whsec", req.bytes()), sig);
  if (!ok) return { status: 401, body: { error: "bad signature" } };
  const event = req.json<{ type: string }>();
  const fields: Record<string, string | string[]> = req.form();
  ctx.log.info(fields);
  if (event.type === "ping") return new TextEncoder().encode(req.text());
  if (event.type === "pairs") return { status: 200, headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] };
  return { status: 200, headers: { "set-cookie": ["a=1", "b=2"] }, body: new Uint8Array([1, 2]) };
}
