(function(){"use strict";
var payload=JSON.parse(document.getElementById("violations-data").textContent);
var cfg=JSON.parse(document.getElementById("table-config").textContent);
var cols=payload.columns,rows=payload.rows,idx={};
cols.forEach(function(c,i){idx[c]=i;});
var rank={low:1,medium:2,high:3,critical:4};
var hay=rows.map(function(r){return r.map(function(v){return v==null?"":String(v);}).join("\u0001").toLowerCase();});
var state={key:"local_time",dir:1,limit:cfg.page,q:"",rule:"",severity:"",channel:""},printing=false;
var table=document.getElementById("violations"),tbody=table.tBodies[0];
var status=document.getElementById("table-status"),more=document.getElementById("more");
var printNote=document.getElementById("print-note");
var heads={};Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
heads[th.getAttribute("data-col")]=th.textContent;});
function sortValue(r,key){if(key==="local_time"){return r[idx.ts];}if(key==="severity"){return rank[r[idx.severity]]||0;}
var v=r[idx[key]];return v==null?"":v;}
function cmp(a,b){var x=sortValue(rows[a],state.key),y=sortValue(rows[b],state.key);
if(x<y){return -state.dir;}if(x>y){return state.dir;}return a-b;}
function text(v){return v==null?"":String(v);}
function el(tag,cls,txt){var e=document.createElement(tag);if(cls){e.className=cls;}if(txt!=null){e.textContent=txt;}return e;}
function ident(v){var s=el("span","id",text(v));s.title=text(v);return s;}
function quote(s){return /^[A-Za-z0-9_.,:@%+=\/-]+$/.test(s)?s:"'"+s.replace(/'/g,"'\\''")+"'";}
function command(r){var ev=r[idx.event_masked]?"EVENT_ID":quote(text(r[idx.event_id]));
var opts=" --db "+cfg.explain.db+(cfg.explain.policy?" --policy "+cfg.explain.policy:"");
return ev.charAt(0)==="-"?"audit explain"+opts+" -- "+ev:"audit explain "+ev+opts;}
function explain(r){var box=el("div","explain"),code=el("code","cmd",command(r)),b=el("button","copy","Copy");
b.type="button";b.title="Copy the audit explain command for this violation";
box.appendChild(code);box.appendChild(b);
if(r[idx.event_masked]){box.appendChild(el("span","note"," The event id looks like a phone or ID number and is masked here: put the full id from your source in place of EVENT_ID."));}
return box;}
function cell(c,r){var td=el("td","c-"+c),v=r[idx[c]];td.setAttribute("data-label",heads[c]);
if(c==="local_time"){var t=text(v),k=t.indexOf("T");td.appendChild(document.createTextNode(k<0?t:t.slice(0,k+1)));
if(k>=0){td.appendChild(el("wbr"));td.appendChild(document.createTextNode(t.slice(k+1)));}}
else if(c==="severity"){td.appendChild(el("span","sev sev-"+text(v).replace(/[^a-z]/g,""),text(v)));}
else if(c==="event_id"||c==="agent_id"){td.appendChild(ident(v));}
else if(c==="loan_id"){td.appendChild(ident(v));td.appendChild(ident(r[idx.borrower_id]));}
else if(c==="channel"){td.appendChild(el("span","sub",text(v)+" \u00b7 "+text(r[idx.recipient_type])));
td.appendChild(ident(r[idx.recipient_id]));}
else if(c==="detail"){td.appendChild(el("div","why",text(v)));
if(r[idx.evidence]!=null&&r[idx.evidence]!==""){var e=el("div","evidence");e.appendChild(el("span","sub","Evidence: "));
e.appendChild(document.createTextNode(text(r[idx.evidence])));td.appendChild(e);}td.appendChild(explain(r));}
else{td.textContent=text(v);}if(td.textContent===""){td.className+=" blank";}return td;}
function render(){var q=state.q.toLowerCase(),keep=[];
for(var i=0;i<rows.length;i++){var r=rows[i];
if(state.rule&&r[idx.rule_id]!==state.rule){continue;}
if(state.severity&&r[idx.severity]!==state.severity){continue;}
if(state.channel&&r[idx.channel]!==state.channel){continue;}
if(q&&hay[i].indexOf(q)<0){continue;}keep.push(i);}
keep.sort(cmp);
var frag=document.createDocumentFragment(),n=printing?keep.length:Math.min(keep.length,state.limit);
for(var k=0;k<n;k++){var row=rows[keep[k]],tr=document.createElement("tr");
cfg.shown.forEach(function(c){tr.appendChild(cell(c,row));});frag.appendChild(tr);}
tbody.textContent="";tbody.appendChild(frag);
status.textContent="Showing "+n.toLocaleString("en")+" of "+keep.length.toLocaleString("en")+
" matching violation(s) ("+rows.length.toLocaleString("en")+" in this table).";
status.setAttribute("data-shown",String(n));status.setAttribute("data-matching",String(keep.length));
var filtered=keep.length<rows.length;
printNote.textContent=filtered?"Printed: the "+keep.length.toLocaleString("en")+" violation(s) matching the page's filter, of "+
rows.length.toLocaleString("en")+" in this report.":"Printed: all "+rows.length.toLocaleString("en")+" violation(s) in this report.";
more.hidden=printing||keep.length<=state.limit;
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){var c=th.getAttribute("data-col");
th.setAttribute("aria-sort",c===state.key?(state.dir>0?"ascending":"descending"):"none");});}
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){th.addEventListener("click",function(){
var c=th.getAttribute("data-col");if(state.key===c){state.dir=-state.dir;}else{state.key=c;state.dir=1;}render();});});
function bind(id,field){var el=document.getElementById(id);el.addEventListener("input",function(){
state[field]=el.value;state.limit=cfg.page;render();});}
bind("f-text","q");bind("f-rule","rule");bind("f-severity","severity");bind("f-channel","channel");
more.addEventListener("click",function(){state.limit+=cfg.page;render();});
function selectText(node){var range=document.createRange();range.selectNodeContents(node);
var sel=window.getSelection();sel.removeAllRanges();sel.addRange(range);}
function copied(b,ok){b.textContent=ok?"Copied":"Selected: press Ctrl+C";setTimeout(function(){b.textContent="Copy";},2000);}
tbody.addEventListener("click",function(e){var b=e.target;if(!b||b.className!=="copy"){return;}
var code=b.parentNode.querySelector("code"),cmd=code.textContent;
function fallback(){selectText(code);var ok=false;try{ok=document.execCommand("copy");}catch(x){ok=false;}copied(b,ok);}
if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(cmd).then(function(){copied(b,true);},fallback);}
else{fallback();}});
function setPrinting(on){if(printing!==on){printing=on;render();}}
window.addEventListener("beforeprint",function(){setPrinting(true);});
window.addEventListener("afterprint",function(){setPrinting(false);});
if(window.matchMedia){var mq=window.matchMedia("print"),onMedia=function(){setPrinting(mq.matches);};
if(mq.addEventListener){mq.addEventListener("change",onMedia);}else if(mq.addListener){mq.addListener(onMedia);}
printing=mq.matches;}
function fromHash(){var h=location.hash.replace(/^#/,"");if(!h){return;}
h.split("&").forEach(function(kv){var p=kv.split("="),k,v;
try{k=decodeURIComponent(p[0]);v=decodeURIComponent((p[1]||"").replace(/\+/g," "));}catch(e){return;}
if(k==="q"){state.q=v;document.getElementById("f-text").value=v;}
else if(k==="rule"||k==="severity"||k==="channel"){state[k]=v;document.getElementById("f-"+k).value=v;}
else if(k==="sort"&&cfg.shown.indexOf(v.replace(/^-/,""))>=0){state.key=v.replace(/^-/,"");state.dir=v.charAt(0)==="-"?-1:1;}});}
fromHash();render();document.body.setAttribute("data-ready","1");})();
