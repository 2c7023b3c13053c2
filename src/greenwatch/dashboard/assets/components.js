// greenwatch's own Dash components: the renderer finds them at window.greenwatch (the Python
// side is greenwatch.dashboard._components). Dash puts the assets' scripts on the page before
// it starts its renderer.
(function () {
  "use strict";

  // A click on a link of this origin inside the component is followed in the page, as a
  // dcc.Link follows one (the history entry, Dash's own event, back to the top); a click with
  // a modifier key or another button, or on a link to another target, is the browser's.
  function follow(event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey) {
      return;
    }
    const link = event.target.closest("a[href]");
    if (!link || !event.currentTarget.contains(link) || link.origin !== window.location.origin ||
        (link.target && link.target !== "_self")) {
      return;
    }
    event.preventDefault();
    window.history.pushState({}, "", link.href);
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
  }

  // HTML the server drew and escaped, put in the page as it is: one element for the browser
  // to lay out, where components for every cell would be some ten per row to build and diff.
  function StaticHtml(props) {
    return window.React.createElement("div", {
      id: props.id,
      className: props.className,
      dangerouslySetInnerHTML: { __html: props.html || "" },
      onClick: follow,
    });
  }

  window.greenwatch = Object.assign(window.greenwatch || {}, { StaticHtml: StaticHtml });
})();
