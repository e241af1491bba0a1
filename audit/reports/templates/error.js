window.addEventListener("error",function(e){var l=document.getElementById("js-errors");
if(!l){return;}var i=document.createElement("li");i.textContent=String(e.message||e);l.appendChild(i);l.hidden=false;});
