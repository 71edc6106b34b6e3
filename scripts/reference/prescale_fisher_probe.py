"""Outside reference (not part of the product): a Fisher-weighted per-feature prescale for codec 7's block-Hadamard
all-reduce, simulated in torch (f32 scales, no entropy coder) on the GGUF models of the cache, all sites and shards
quantized at once. Results and reading: docs/results/frontier/probes/prescale-fisher.md.
Set-up: pip install torch==2.13.0 transformers gguf (a venv); python3.11-doc for the text.
Usage: python scripts/reference/prescale_fisher_probe.py --model smol --tp 3   (or --model gemma --tp 2 [--persite 0])
Writes /tmp/fisher/results_<model>_tp<n><tag>.json and prints a summary.
"""
import argparse, json, math, os, time, glob
import torch, torch.nn.functional as F

torch.set_num_threads(2)
p = argparse.ArgumentParser()
p.add_argument('--model', default='smol')
p.add_argument('--tp', type=int, default=3)
p.add_argument('--ncal', type=int, default=8)
p.add_argument('--neval', type=int, default=8)
p.add_argument('--seqlen', type=int, default=256)
p.add_argument('--samples', type=int, default=2)
p.add_argument('--Ms', default='10,5')
p.add_argument('--clip', type=float, default=8.0)
p.add_argument('--persite', type=int, default=1, help='per-site single-site KL ablation (M=5)')
p.add_argument('--persite_seqs', type=int, default=4)
p.add_argument('--tag', default='')
args = p.parse_args()
t0 = time.time()
def log(*a): print(f'[{time.time()-t0:7.1f}s]', *a, flush=True)

from transformers import AutoModelForCausalLM, AutoTokenizer
D = '/root/.cache/lowbit-tp/'
FILE = {'smol': 'SmolLM2-135M-Instruct.Q4_1.gguf', 'gemma': 'gemma-3-270m-q4_k_m.gguf'}[args.model]
tok = AutoTokenizer.from_pretrained(D, gguf_file=FILE)
model = AutoModelForCausalLM.from_pretrained(D, gguf_file=FILE, dtype=torch.float32).eval()
for q in model.parameters(): q.requires_grad_(False)
cfg = model.config
L, E = cfg.num_hidden_layers, cfg.hidden_size
H, KV = cfg.num_attention_heads, cfg.num_key_value_heads
hd = getattr(cfg, 'head_dim', None) or E // H
FFN = cfg.intermediate_size
GEMMA = 'gemma' in cfg.model_type
log(f'{args.model}: L={L} E={E} H={H} KV={KV} hd={hd} FFN={FFN} gemma={GEMMA}')

# ---------------- sharding (port of bindings/tp/plan.ts) ----------------
def split_range(n, parts, align):
    cuts = [0] + [min(n, round(i * n / parts / align) * align) for i in range(1, parts)] + [n]
    return [(cuts[i], cuts[i + 1]) for i in range(parts)]
def plan(S):
    group = H // KV
    ffn_align = 256 if FFN % 256 == 0 and FFN / S >= 256 else 32
    ffn = split_range(FFN, S, ffn_align)
    out = []
    for s in range(S):
        if S <= KV:
            g0, g1 = split_range(KV, S, 1)[s]; heads = (g0 * group, g1 * group)
        else:
            g = (s * KV) // S
            sharing = [t for t in range(S) if (t * KV) // S == g]
            q0, q1 = split_range(group, len(sharing), 1)[sharing.index(s)]
            heads = (g * group + q0, g * group + q1)
        out.append(dict(heads=heads, ffn=ffn[s]))
    return out
PLAN = plan(args.tp)
log('plan', PLAN)

# ---------------- codec ----------------
def sylvester(n):
    h = torch.ones(1, 1)
    while h.shape[0] < n: h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h
def blocks_of(E, R=128):
    out, a, w = [], 0, R
    while w >= 1:
        if a + w > E: w >>= 1; continue
        out.append((a, a + w)); a += w
    return out
BLOCKS = blocks_of(E)
HM = {b - a: sylvester(b - a) for a, b in BLOCKS}
# sign(i) per block position as in docs/wire-format.md §9: -1 if the top bit of i*0x9E3779B1 (32-bit) is set
SIGN = torch.ones(E)
for a, b in blocks_of(E):
    for i in range(b - a): SIGN[a + i] = -1.0 if ((i * 0x9E3779B1) & 0xFFFFFFFF) >> 31 else 1.0
log('blocks', BLOCKS)

def codec(x, M, c=None, outl=None):
    """x: (..., E) one shard's message rows. Returns the decoded message. outl: feature indices sent as bf16."""
    sh = x.shape; x = x.reshape(-1, E)
    if outl is not None: xo = x[:, outl].to(torch.bfloat16).float(); x = x.clone(); x[:, outl] = 0
    if c is not None: x = x * c
    out = torch.empty_like(x)
    for a, b in BLOCKS:
        n = b - a; h = HM[n]
        y = (x[:, a:b] * SIGN[a:b]) @ h
        s = (y.abs().amax(1, keepdim=True) / M).clamp_min(1e-30)
        yq = torch.round(y / s).clamp(-M, M) * s
        out[:, a:b] = (yq @ h) / n * SIGN[a:b]
    if c is not None: out = out / c
    if outl is not None: out[:, outl] = xo
    return out.reshape(sh)

# ---------------- sites ----------------
# site k = 2*l (attn o_proj of layer l) or 2*l+1 (mlp down_proj of layer l)
SITES = []
for l, layer in enumerate(model.model.layers):
    SITES.append(('attn', l, layer.self_attn.o_proj, [(pl['heads'][0] * hd, pl['heads'][1] * hd) for pl in PLAN]))
    SITES.append(('mlp', l, layer.mlp.down_proj, [pl['ffn'] for pl in PLAN]))
NS = len(SITES)
STATE = dict(mode='exact', M=10, C=None, only=None, collect_sigma=False, grads=False)
SIG = torch.zeros(NS, args.tp, E, dtype=torch.float64); SIGN_N = torch.zeros(NS)
XMAX = torch.full((NS, args.tp, E), -1e30); XMIN = torch.full((NS, args.tp, E), 1e30)
FISH = torch.zeros(NS, E, dtype=torch.float64); FISH_N = torch.zeros(NS)
WERR = {}  # per-site weighted error accumulators for current config

def make_forward(k, lin, cols):
    W = lin.weight
    def fwd(x):
        if STATE['mode'] == 'exact' and not STATE['collect_sigma']:
            out = F.linear(x, W)
        else:
            msgs = [F.linear(x[..., a:b], W[:, a:b]) for a, b in cols]
            if STATE['collect_sigma']:
                for s, m in enumerate(msgs):
                    m2 = m.detach().reshape(-1, E)
                    SIG[k, s] += m2.double().pow(2).sum(0)
                    XMAX[k, s] = torch.maximum(XMAX[k, s], m2.amax(0)); XMIN[k, s] = torch.minimum(XMIN[k, s], m2.amin(0))
                SIGN_N[k] += msgs[0].reshape(-1, E).shape[0]
            if STATE['mode'] == 'quant' and (STATE['only'] is None or STATE['only'] == k):
                C = STATE['C']
                OL = STATE.get('outl')
                deq = [codec(m, STATE['M'], None if C is None else C[k, s], None if OL is None else OL[k][s])
                       for s, m in enumerate(msgs)]
                if STATE.get('werr') is not None:
                    e = sum(d - m for d, m in zip(deq, msgs)).reshape(-1, E).double()
                    acc = STATE['werr'].setdefault(k, [0.0, 0.0, 0])
                    acc[0] += (e.pow(2) * STATE['wref'][k]).sum().item()
                    acc[1] += (e.pow(2)).sum().item(); acc[2] += e.shape[0]
                msgs = deq
            out = sum(msgs)
        if STATE['grads']:
            def hook(g, k=k):
                g2 = g.detach().reshape(-1, E).double()
                FISH[k] += g2.pow(2).sum(0); FISH_N[k] += g2.shape[0]
            out.register_hook(hook)
        return out
    return fwd
for k, (kind, l, lin, cols) in enumerate(SITES):
    lin.forward = make_forward(k, lin, cols)

# ---------------- text ----------------
SRC = '/usr/share/doc/python3.11/html/_sources/'
CAL_FILES = ['tutorial/' + f for f in ['appetite', 'classes', 'controlflow', 'datastructures', 'errors', 'floatingpoint',
                                      'inputoutput', 'modules', 'stdlib', 'stdlib2', 'interpreter', 'venv']]
EVAL_FILES = ['howto/' + f for f in ['descriptor', 'functional', 'logging', 'regex', 'sockets', 'sorting', 'unicode',
                                    'urllib2', 'argparse', 'enum', 'ipaddress', 'annotations']]
def seqs(files, n):
    out = []
    for f in files:
        ids = tok(open(SRC + f + '.rst.txt').read(), return_tensors='pt').input_ids[0]
        off = 1 if ids[0].item() == tok.bos_token_id else 0
        body = ids[off + 100: off + 100 + args.seqlen - off]  # skip the title/header markup
        if len(body) < args.seqlen - off: continue
        s = torch.cat([ids[:off], body]) if off else body
        out.append(s)
        if len(out) == n: break
    assert len(out) == n, (files, len(out))
    return torch.stack(out)
CAL = seqs(CAL_FILES, args.ncal); EVAL = seqs(EVAL_FILES, args.neval)
log('cal', tuple(CAL.shape), 'eval', tuple(EVAL.shape))

# ---------------- calibration: sigma^2 and true Fisher ----------------
STATE.update(mode='exact', collect_sigma=True)
with torch.no_grad():
    for i in range(args.ncal): model(CAL[i:i + 1])
STATE['collect_sigma'] = False
SIG = SIG / SIGN_N.view(NS, 1, 1)

gsamp = torch.Generator().manual_seed(7)
STATE['grads'] = True
nll_cal = []
for i in range(args.ncal):
    for smp in range(args.samples):
        ids = CAL[i:i + 1]
        emb = model.model.embed_tokens(ids).detach().requires_grad_(True)  # graph root so site hooks get grads
        logits = model(inputs_embeds=emb).logits[0]
        lp = logits.log_softmax(-1)
        y = torch.multinomial(lp.detach().exp(), 1, generator=gsamp).squeeze(1)
        (-lp.gather(1, y[:, None]).sum()).backward()
        if smp == 0: nll_cal.append(F.cross_entropy(logits[:-1].detach(), ids[0, 1:]).item())
STATE['grads'] = False
WTRUE = (FISH / FISH_N.view(NS, 1)).float()
log('Fisher done; cal ppl', math.exp(sum(nll_cal) / len(nll_cal)))

# ---------------- proxies ----------------
def gam(norm):
    w = norm.weight.detach().float()
    return (1 + w) if GEMMA else w
PROXY = {'norm': torch.zeros(NS, E), 'normW': torch.zeros(NS, E)}
layers = model.model.layers
for k, (kind, l, lin, cols) in enumerate(SITES):
    ly = layers[l]
    own = torch.ones(E)
    if kind == 'attn':
        if GEMMA: own = gam(ly.post_attention_layernorm) ** 2; g = gam(ly.pre_feedforward_layernorm)
        else: g = gam(ly.post_attention_layernorm)
        Ws = [ly.mlp.gate_proj.weight, ly.mlp.up_proj.weight]
    else:
        if GEMMA: own = gam(ly.post_feedforward_layernorm) ** 2
        if l + 1 < L:
            nx = layers[l + 1]; g = gam(nx.input_layernorm)
            Ws = [nx.self_attn.q_proj.weight, nx.self_attn.k_proj.weight, nx.self_attn.v_proj.weight]
        else:
            g = gam(model.model.norm); Ws = [model.lm_head.weight]
    colsq = sum(W.detach().float().pow(2).sum(0) for W in Ws)
    PROXY.setdefault('own', torch.zeros(NS, E))[k] = own  # Gemma: the site's own post-norm γ² (the error is scaled by it)
    PROXY['norm'][k] = own * g ** 2
    PROXY['normW'][k] = own * g ** 2 * colsq
PROXY['flat'] = torch.ones(NS, E)  # w = 1: pure per-feature variance equalisation (c^2 ∝ 1/σ)

def spearman(a, b):
    ra = a.argsort().argsort().float(); rb = b.argsort().argsort().float()
    ra -= ra.mean(); rb -= rb.mean()
    return (ra @ rb / (ra.norm() * rb.norm())).item()

def prescale(w):
    """c[k, s, f] with c^2 ∝ sqrt(w/σ²) in each block, geometric mean 1 per block, clipped."""
    C = torch.ones(NS, args.tp, E)
    for k in range(NS):
        for s in range(args.tp):
            sg = SIG[k, s].float().clamp_min(1e-20)
            c = (w[k].clamp_min(1e-30) / sg) ** 0.25
            for a, b in BLOCKS:
                cb = c[a:b]; cb = cb / cb.log().mean().exp()
                C[k, s, a:b] = cb.clamp(1 / args.clip, args.clip)
    return C

def predicted_gain(C, wref):
    """Per site: Σ_blocks,shards (Σw)(Σσ²)  /  Σ_blocks,shards (Σ c²σ²)(Σ w/c²)  (weighted error ratio baseline/prescaled)."""
    g = []
    for k in range(NS):
        base = new = 0.0
        for s in range(args.tp):
            sg = SIG[k, s].float()
            for a, b in BLOCKS:
                w = wref[k, a:b]; c = C[k, s, a:b]
                base += (w.sum() * sg[a:b].sum()).item()
                new += ((c ** 2 * sg[a:b]).sum() * (w / c ** 2).sum()).item()
        g.append(base / new)
    return g

CONFIGS = {'baseline': None, 'fisher': prescale(WTRUE), 'proxy_norm': prescale(PROXY['norm']),
           'proxy_normW': prescale(PROXY['normW']), 'flat(σ only)': prescale(PROXY['flat'])}
if GEMMA: CONFIGS['proxy_own'] = prescale(PROXY['own'])
res = dict(model=args.model, tp=args.tp, plan=PLAN, blocks=BLOCKS, sites=[f'{kd}{l}' for kd, l, _, _ in SITES])
res['spearman'] = {pn: [spearman(WTRUE[k], PROXY[pn][k]) for k in range(NS)] for pn in ['norm', 'normW'] + (['own'] if GEMMA else [])}
res['pred_gain'] = {cn: predicted_gain(C, WTRUE) for cn, C in CONFIGS.items() if C is not None}
# unclipped ideal gain
ideal = []
for k in range(NS):
    base = new = 0.0
    for s in range(args.tp):
        sg = SIG[k, s].float()
        for a, b in BLOCKS:
            w = WTRUE[k, a:b]; v = sg[a:b]
            base += (w.sum() * v.sum()).item(); new += ((w * v).sqrt().sum() ** 2).item()
    ideal.append(base / new)
res['pred_gain_unclipped'] = ideal
res['c_clipped_frac'] = {cn: ((C <= 1 / args.clip + 1e-6) | (C >= args.clip - 1e-6)).float().mean().item()
                         for cn, C in CONFIGS.items() if C is not None}
log('predicted gain (fisher, clipped) per site:', ' '.join(f'{g:.2f}' for g in res['pred_gain']['fisher']))

# ---------------- evaluation ----------------
STATE['mode'] = 'exact'
with torch.no_grad():
    REF = [model(EVAL[i:i + 1]).logits[0].log_softmax(-1) for i in range(args.neval)]
nll_eval = sum(F.nll_loss(REF[i][:-1], EVAL[i, 1:]).item() for i in range(args.neval)) / args.neval
res['ppl_cal'] = math.exp(sum(nll_cal) / len(nll_cal)); res['ppl_eval'] = math.exp(nll_eval)
log('eval ppl (exact)', res['ppl_eval'])

def run_kl(C, M, only=None, nseq=None, werr=False, outl=None):
    STATE.update(mode='quant', M=M, C=C, only=only, werr={} if werr else None, wref=WTRUE.double(), outl=outl)
    kls = []
    with torch.no_grad():
        for i in range(nseq or args.neval):
            lq = model(EVAL[i:i + 1]).logits[0].log_softmax(-1)
            kt = (REF[i].exp() * (REF[i] - lq)).sum(-1)
            kls.append(kt.mean().item()); STATE.setdefault('kl_nofirst', []).append(kt[1:].mean().item())
    we = STATE['werr']; STATE.update(mode='exact', werr=None, outl=None)
    return kls, we

def boot(kls, n=10000):
    t = torch.tensor(kls); g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(kls), (n, len(kls)), generator=g)
    m = t[idx].mean(1)
    return t.mean().item(), m.quantile(0.025).item(), m.quantile(0.975).item()

# the real codec's optional outlier features (-k<N>): per site and shard the O widest calibrated ranges, sent as bf16
O = E // 64
OUTL = [[torch.sort((XMAX[k, s] - XMIN[k, s]).topk(O).indices).values for s in range(args.tp)] for k in range(NS)]
RUNS = [(cn, C, None) for cn, C in CONFIGS.items()] + \
       [(cn + f'+O{O}', CONFIGS[cn], OUTL) for cn in ['baseline', 'fisher', 'proxy_norm', 'proxy_normW', 'flat(σ only)'] + (['proxy_own'] if GEMMA else [])]
res['kl'] = {}; res['werr'] = {}
for M in [int(m) for m in args.Ms.split(',')]:
    for cn, C, OL in RUNS:
        STATE['kl_nofirst'] = []
        kls, we = run_kl(C, M, werr=True, outl=OL)
        kn = STATE['kl_nofirst']
        mu, lo, hi = boot(kls)
        res['kl'][f'{cn}@M{M}'] = dict(per_seq=kls, mean=mu, lo=lo, hi=hi, mean_excl_pos0=sum(kn) / len(kn))
        res['werr'][f'{cn}@M{M}'] = {k: v[0] / v[2] for k, v in we.items()}
        log(f'M={M:2d} {cn:14s} KL {mu:.5f} [{lo:.5f}, {hi:.5f}]')
    # paired ratio vs baseline (per sequence)
    for cn, _, OL in RUNS:
        if cn.startswith('baseline'): continue
        b = torch.tensor(res['kl'][f'baseline{"+O%d" % O if OL is not None else ""}@M{M}']['per_seq'])
        r = torch.tensor(res['kl'][f'{cn}@M{M}']['per_seq']) / b
        g = torch.Generator().manual_seed(1); idx = torch.randint(0, len(r), (10000, len(r)), generator=g)
        # ratio of means, bootstrapped over sequences (paired)
        tq = torch.tensor(res['kl'][f'{cn}@M{M}']['per_seq'])
        rm = tq[idx].mean(1) / b[idx].mean(1)
        res['kl'][f'{cn}@M{M}']['ratio'] = [(tq.mean() / b.mean()).item(), rm.quantile(0.025).item(), rm.quantile(0.975).item()]
        log(f'   {cn:14s} KL ratio vs baseline {res["kl"][f"{cn}@M{M}"]["ratio"]}')
    json.dump(res, open(f'/tmp/fisher/results_{args.model}_tp{args.tp}{args.tag}.json', 'w'))

if args.persite:
    M = 5; n = args.persite_seqs
    res['persite'] = {}
    for k in range(NS):
        kb, _ = run_kl(None, M, only=k, nseq=n)
        kf, _ = run_kl(CONFIGS['fisher'], M, only=k, nseq=n)
        kp, _ = run_kl(CONFIGS['proxy_normW'], M, only=k, nseq=n)
        res['persite'][res['sites'][k]] = [sum(kb) / n, sum(kf) / n, sum(kp) / n]
        log(f'site {res["sites"][k]:7s} KL base {sum(kb)/n:.6f} fisher {sum(kf)/n:.6f} proxyW {sum(kp)/n:.6f} pred {res["pred_gain"]["fisher"][k]:.2f}')
        json.dump(res, open(f'/tmp/fisher/results_{args.model}_tp{args.tp}{args.tag}.json', 'w'))
json.dump(res, open(f'/tmp/fisher/results_{args.model}_tp{args.tp}{args.tag}.json', 'w'))
log('done')
