// Draws the admin page's process diagram; a file of its own so the Content-Security-Policy needs no inline script.
mermaid.initialize({startOnLoad: true, securityLevel: "strict"});
