(function(){"use strict";
Array.prototype.forEach.call(document.querySelectorAll("table.sortable"),function(t){
var heads=t.tHead.rows[0].cells,body=t.tBodies[0];
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener("click",function(){
var dir=th.getAttribute("aria-sort")==="descending"?1:-1;
Array.prototype.forEach.call(heads,function(h){h.setAttribute("aria-sort","none");});
th.setAttribute("aria-sort",dir>0?"ascending":"descending");
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=a.cells[i].getAttribute("data-v"),y=b.cells[i].getAttribute("data-v");
var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){return (nx-ny)*dir;}
return x<y?-dir:x>y?dir:0;});rows.forEach(function(r){body.appendChild(r);});});});});})();
