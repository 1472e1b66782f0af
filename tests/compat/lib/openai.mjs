// Loads the pinned official `openai` npm package (tests/compat/package-lock.json) or fails with
// a message that says how to install it.
let mod;
try {
  mod = await import('openai');
} catch (e) {
  throw new Error(
    'tests/compat/node_modules is missing or broken (cannot import the official "openai" package: ' +
      e.message +
      '). Install it with scripts/deps.sh (runs `npm ci` in tests/compat).',
  );
}
export const OpenAI = mod.default ?? mod.OpenAI;
export const { toFile } = mod;
export default OpenAI;
export const openai = mod;
