// Progressive enhancement: a "Copy link" button beside each permalink (the pages work
// without this script; the permalink itself is an ordinary link).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard) return;
  for (const link of document.querySelectorAll("a.permalink[data-copy]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy link";
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(link.dataset.copy);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Copy failed";
      }
      setTimeout(() => { button.textContent = "Copy link"; }, 2000);
    });
    link.after(button);
  }
});
