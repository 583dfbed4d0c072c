// Starts the vendored Swagger UI on /docs. A static file because the CSP forbids inline script.
// "Try it out" runs with the dashboard session cookie (same origin); state-changing calls need the
// session's CSRF token, which the page carries in <meta name="cw-csrf">.
(function () {
  "use strict";
  var SAFE = { GET: 1, HEAD: 1, OPTIONS: 1 };
  function start() {
    var meta = document.querySelector('meta[name="cw-csrf"]');
    var csrf = meta ? meta.getAttribute("content") : "";
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null, // the default posts the spec to validator.swagger.io: no external requests
      tryItOutEnabled: false,
      requestInterceptor: function (req) {
        var method = (req.method || "GET").toUpperCase();
        var sameOrigin = new URL(req.url, window.location.href).origin === window.location.origin;
        if (csrf && sameOrigin && !SAFE[method]) {
          req.headers["X-CSRF-Token"] = csrf;
        }
        return req;
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
