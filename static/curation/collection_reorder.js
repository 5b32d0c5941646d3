// Optional drag and drop: the Move buttons do the same without JavaScript.
(function () {
  const list = document.querySelector("ol.items[data-reorderable]");
  const form = document.getElementById("reorder-form");
  if (!list || !form) return;
  let dragged = null;
  list.addEventListener("dragstart", (event) => { dragged = event.target.closest("li.item"); });
  list.addEventListener("dragover", (event) => {
    event.preventDefault();
    const over = event.target.closest("li.item");
    if (!dragged || !over || over === dragged) return;
    const after = event.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!dragged) return;
    dragged = null;
    document.getElementById("reorder-order").value =
      Array.from(list.querySelectorAll("li.item")).map((li) => li.dataset.item).join(",");
    form.submit();
  });
})();
