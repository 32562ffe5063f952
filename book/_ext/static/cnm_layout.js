// The article header's "contents" button (sphinx-book-theme) is not wired to the drawer that holds the
// page's table of contents (pydata-sphinx-theme listens on the first .secondary-toggle only, a hidden
// one): forward its clicks, so the contents open wherever the sidebar is folded away (cnm_book_site.css).
document.addEventListener("DOMContentLoaded", function () {
  const toggles = document.querySelectorAll(".secondary-toggle");
  const wired = toggles[0];
  toggles.forEach(function (button) {
    if (button === wired) { return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      event.stopPropagation();
      wired.click();
    });
  });
});
