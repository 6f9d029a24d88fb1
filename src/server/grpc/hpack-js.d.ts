// hpack.js ships no types; authority.ts uses its decompressor only.
declare module "hpack.js" {
  const hpack: {
    decompressor: { create(options: { table: { maxSize: number } }): unknown };
  };
  export default hpack;
}
