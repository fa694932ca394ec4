// Progressive enhancement: drag-and-drop and paste fill the file input and submit the form.
// Without JavaScript the plain file picker and Search button work the same way.
(function () {
  const form = document.getElementById("search-form");
  const input = document.getElementById("image");
  const drop = document.getElementById("drop");
  if (!form || !input || !drop) return;

  const maxBytes = Number(form.dataset.maxBytes) || Infinity;

  // A file over the server's limit is refused here, before it is sent, with the server's own words.
  function tooLarge(file) {
    if (file.size <= maxBytes) return false;
    let alert = document.querySelector("p.error");
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "error";
      alert.setAttribute("role", "alert");
      form.after(alert);
    }
    alert.textContent = `the upload is larger than the ${Math.floor(maxBytes / 1048576)} MB limit`;
    input.value = "";
    return true;
  }

  function submitFile(file) {
    if (!file || !file.type.startsWith("image/") || tooLarge(file)) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    form.submit();
  }

  input.addEventListener("change", () => { if (input.files.length && !tooLarge(input.files[0])) form.submit(); });
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
