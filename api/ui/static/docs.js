/* Starts Swagger UI on /docs (api/docs_assets.py). A file, not an inline script: the page's
   Content-Security-Policy runs scripts only from our own files. */
"use strict";
window.addEventListener("load", function () {
  const container = document.getElementById("swagger-ui-container");
  window.ui = window.SwaggerUIBundle({ url: container.dataset.specUrl, dom_id: "#swagger-ui-container" });
});
