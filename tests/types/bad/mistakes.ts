// Each line is a mistake the declarations must catch (tsc must fail here).
export default async function (ctx: jsrt.Context) {
  ctx.http.get("https://x", { body: "no body on GET" });
  ctx.cache.set("k", () => 1);
  const n: number = ctx.secrets.get("k");
  ctx.db.update("orders", { id: 1 });
  crypto.sha256("x", "latin1");
  ctx.tenant.id = "other";
  const t: number = ctx.request!.text();
  const when: number = ctx.event!.emittedAt;
  setTimeout("code as a string", 10);
  ctx.event!.type = "other";
  fetch("https://x", { redirect: "sometimes" });
  const s: string = (await fetch("https://x")).text();
  new Headers().get("a").length;
  new Intl.NumberFormat("de", { style: "money" });
}
const badTrigger: jsrt.TriggerScript = (ctx, tg) => {
  tg.op === "TRUNCATE";
  tg.old = null;
};
