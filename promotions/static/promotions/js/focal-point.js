// Click into the image on an image's change page to set its focal point.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var picker = document.querySelector("[data-focal-point]");
  if (!picker) return;
  var image = picker.querySelector("img");
  var marker = picker.querySelector("[data-focal-marker]");
  var x = document.getElementById("id_focal_point_x");
  var y = document.getElementById("id_focal_point_y");
  function place() {
    marker.style.left = (parseFloat(x.value) * 100) + "%";
    marker.style.top = (parseFloat(y.value) * 100) + "%";
  }
  image.addEventListener("click", function (event) {
    var box = image.getBoundingClientRect();
    x.value = ((event.clientX - box.left) / box.width).toFixed(3);
    y.value = ((event.clientY - box.top) / box.height).toFixed(3);
    place();
  });
  x.addEventListener("input", place);
  y.addEventListener("input", place);
  place();
});
