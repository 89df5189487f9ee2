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

// Money and dates for a user, in their locale and time zone.
export function invoiceLine(amount: number, due: Date, locale: string, timeZone: string): string {
  const money = new Intl.NumberFormat(locale, { style: "currency", currency: "EUR" }).format(amount);
  const when = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: "long" }).format(due);
  const share = (0.25).toLocaleString(locale, { style: "percent" });
  const sorted = ["b", "a"].sort(new Intl.Collator(locale, { numeric: true }).compare);
  return `${money} due ${when} (${share}) ${sorted.join()} ${due.toLocaleDateString(locale, { timeZone })}`;
}
