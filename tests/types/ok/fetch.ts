// fetch with a timeout, a form post, a manual redirect and the error's cause.
export default async function (ctx: jsrt.Context<{ url: string }>) {
  const form = new FormData();
  form.append("report", new Blob(["a,b\r\n"], { type: "text/csv" }), "report.csv");
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(5000)]);
  try {
    const r = await fetch(ctx.input.url, { method: "POST", body: form, headers: { Authorization: "Bearer x" }, signal });
    const data: { id: string } = await r.json();
    const moved = await fetch(new Request(ctx.input.url, { redirect: "manual" }));
    const fields = await new Response(new URLSearchParams({ a: "1" })).formData();
    return { id: data.id, status: r.status, location: moved.headers.get("location"), a: fields.get("a"), cookies: r.headers.getSetCookie() };
  } catch (e) {
    if (e instanceof DOMException && e.name === "TimeoutError") return { timedOut: true };
    const cause = (e as TypeError & { cause?: jsrt.HttpError }).cause;
    return { failed: cause?.kind ?? null, rule: cause?.rule ?? null };
  }
}
