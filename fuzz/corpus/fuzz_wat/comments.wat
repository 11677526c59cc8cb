(;c;)(module(;nested (;comment;) here;)
  (func;;line
   (;a;)nop(;b;)(nop);;
  ))
