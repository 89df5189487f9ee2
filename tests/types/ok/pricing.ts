// A typed SQL function (jsrt.create_function) and a validation trigger (jsrt.create_trigger).
export const price: jsrt.FunctionScript = (ctx, qty: number, unitPrice: string, tier: string | null) => {
  let total = qty * Number(unitPrice);
  if (tier === "gold") total *= 0.9;
  const at = ctx.db.one<{ at: string }>("select now() as at", [], { exactTimestamps: true, jsonText: true });
  ctx.log.info(ctx.execution.trigger, at?.at ?? "", new Uint16Array([1]).byteLength);
  return Math.round(total * 100) / 100;
};

const validate: jsrt.TriggerScript = (ctx, tg) => {
  if (tg.op === "DELETE" || !tg.new) return undefined;
  if (Number(tg.new.qty) < 0) throw new RangeError(`qty must not be negative in ${tg.schema}.${tg.table}`);
  if (tg.new.sku === "skip") return null;
  return { ...tg.new, sku: String(tg.new.sku).toUpperCase() };
};
export default validate;
