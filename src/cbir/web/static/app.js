// Progressive enhancement: drag-and-drop and paste fill the file input and submit the form.
// Without JavaScript the plain file picker and Search button work the same way.
(function () {
  const form = document.getElementById("search-form");
  const input = document.getElementById("image");
  const drop = document.getElementById("drop");
  if (!form || !input || !drop) return;

  function submitFile(file) {
    if (!file || !file.type.startsWith("image/")) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    form.submit();
  }

  input.addEventListener("change", () => { if (input.files.length) form.submit(); });
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    submitFile(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (item) submitFile(item.getAsFile());
  });
})();
