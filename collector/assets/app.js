// tracewire collector UI: runs the renderer of the page this document is (see core.js).
"use strict";

(function () {
  const run = TW.pages[TW.page];
  if (!run) return TW.fail(new Error("unknown page"));
  run().catch(TW.fail);
})();
