# Reference values for livingreview.meta.models, computed with R metafor.
#
# Usage (from the repository root):  Rscript tests/reference/metafor_reference.R
# Writes tests/reference/metafor_reference.json, which the Python tests read (they need no R).
# Data: public data sets of the 'metadat' package that ships with metafor.
# Every number is written with 17 significant digits; an analysis that metafor refuses is
# recorded as {"error": "<metafor's message>"} so the tests can check that we refuse it too.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_path <- file.path("tests", "reference", "metafor_reference.json")
# "tight" refits approximate the exact answers: tolerances 1e-12 relative to the squared scale
# of the outcomes (metafor's rules are absolute), enough iterations, and a Q-profile search
# bound far above every root (metafor's default bound, 100, cuts some intervals short).
tight_for <- function(s2 = 1) list(threshold = 1e-12 * s2, tol = 1e-12 * s2, maxiter = 1000L)
tight_ci_for <- function(s2 = 1) list(tol = 1e-12 * s2, tau2.max = 1e6 * s2)
tight <- tight_for()
methods <- c("REML", "ML", "DL", "PM", "HE", "SJ", "EE")

# --- JSON with full double precision -------------------------------------------------------
num <- function(x) {
  x <- as.numeric(x)
  s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  if (length(x) == 1L) structure(s, class = "json") else
    structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}
numv <- function(x) {  # always an array
  x <- as.numeric(x)
  s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}
attempt <- function(expr) {
  tryCatch(suppressWarnings(expr), error = function(e) list(error = conditionMessage(e)))
}

# --- one model and everything derived from it ----------------------------------------------
fit_record <- function(d, method, test, control_name, order = NULL, s2 = 1) {
  ctrl <- if (control_name == "tight") tight_for(s2) else list()
  ci_ctrl <- if (control_name == "tight") tight_ci_for(s2) else list()
  res <- attempt(rma(yi, vi, data = d, method = method, test = test, control = ctrl))
  rec <- list(method = method, test = test, control = control_name)
  if (!is.null(res$error)) return(c(rec, list(error = res$error)))
  pr <- predict(res)
  rec$fit <- list(
    k = res$k, estimate = num(res$beta), se = num(res$se), zval = num(res$zval),
    pval = num(res$pval), ci_lb = num(res$ci.lb), ci_ub = num(res$ci.ub),
    tau2 = num(res$tau2), se_tau2 = num(res$se.tau2), QE = num(res$QE), QEp = num(res$QEp),
    I2 = num(res$I2), H2 = num(res$H2), vt = num(res$vt), s2w = num(res$s2w),
    pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub)
  )
  if (method != "EE") {
    ci <- attempt(confint(res, control = ci_ctrl))
    rec$confint <- if (!is.null(ci$error)) ci else {
      rnd <- ci$random
      list(tau2_lb = num(rnd["tau^2", "ci.lb"]), tau2_ub = num(rnd["tau^2", "ci.ub"]),
           I2_lb = num(rnd["I^2(%)", "ci.lb"]), I2_ub = num(rnd["I^2(%)", "ci.ub"]),
           H2_lb = num(rnd["H^2", "ci.lb"]), H2_ub = num(rnd["H^2", "ci.ub"]))
    }
  }
  if (control_name != "tight") return(rec)
  l1 <- attempt(leave1out(res))
  rec$leave1out <- if (!is.null(l1$error)) l1 else
    list(estimate = numv(l1$estimate), se = numv(l1$se), pval = numv(l1$pval),
         ci_lb = numv(l1$ci.lb), ci_ub = numv(l1$ci.ub), Q = numv(l1$Q), Qp = numv(l1$Qp),
         tau2 = numv(if (method == "EE") rep(0, res$k) else l1$tau2),
         I2 = numv(l1$I2), H2 = numv(l1$H2))
  if (!is.null(order)) {
    cm <- attempt(cumul(res, order = order))
    rec$cumul <- if (!is.null(cm$error)) cm else
      list(order = numv(order), estimate = numv(cm$estimate), se = numv(cm$se),
           pval = numv(cm$pval), ci_lb = numv(cm$ci.lb), ci_ub = numv(cm$ci.ub),
           tau2 = numv(if (method == "EE") rep(0, res$k) else cm$tau2))
  }
  rs <- attempt(rstudent(res))
  rec$rstudent <- if (!is.null(rs$error)) rs else
    list(resid = numv(rs$resid), se = numv(rs$se), z = numv(rs$z))
  cd <- attempt(cooks.distance(res))
  rec$cooks <- if (is.list(cd) && !is.null(cd$error)) cd else numv(cd)
  rt <- attempt(regtest(res))
  rec$regtest <- if (!is.null(rt$error)) rt else
    list(zval = num(rt$zval), pval = num(rt$pval), limit_estimate = num(rt$est),
         limit_ci_lb = num(rt$ci.lb), limit_ci_ub = num(rt$ci.ub))
  tf <- attempt(trimfill(res, control = ctrl, test = test))
  rec$trimfill <- if (!is.null(tf$error)) tf else
    list(k0 = tf$k0, side = tf$side, estimate = num(tf$beta), se = num(tf$se),
         ci_lb = num(tf$ci.lb), ci_ub = num(tf$ci.ub), tau2 = num(tf$tau2))
  rec
}

metareg_record <- function(d, formula, method, test) {
  res <- attempt(rma(yi, vi, mods = formula, data = d, method = method, test = test,
                     control = tight))
  rec <- list(mods = I(all.vars(formula)), method = method, test = test)
  if (!is.null(res$error)) return(c(rec, list(error = res$error)))
  c(rec, list(
    coef_names = I(rownames(res$beta)), b = numv(res$beta), se = numv(res$se),
    zval = numv(res$zval), pval = numv(res$pval), ci_lb = numv(res$ci.lb),
    ci_ub = numv(res$ci.ub), QM = num(res$QM), QMp = num(res$QMp), QE = num(res$QE),
    QEp = num(res$QEp), tau2 = num(res$tau2), I2 = num(res$I2), H2 = num(res$H2),
    R2 = num(if (is.null(res$R2)) NA else res$R2),
    cooks = numv(cooks.distance(res)), rstudent = numv(rstudent(res)$z)
  ))
}

subgroup_record <- function(d, group, method) {
  levs <- sort(unique(as.character(d[[group]])))
  fits <- lapply(levs, function(g)
    rma(yi, vi, data = d, subset = as.character(d[[group]]) == g, method = method,
        control = tight))
  est <- sapply(fits, function(f) c(f$beta))
  se <- sapply(fits, function(f) f$se)
  qb <- rma(est, sei = se, method = "EE")
  list(group = group, method = method, levels = I(levs), estimate = numv(est), se = numv(se),
       tau2 = numv(sapply(fits, function(f) f$tau2)), Q_between = num(qb$QE),
       df = length(levs) - 1L, pval = num(qb$QEp))
}

dataset_record <- function(d, description, order = NULL, mods = list(), extra = list(),
                           default_methods = character(0), s2 = 1) {
  fits <- list()
  for (m in methods) for (tst in c("z", "knha"))
    fits[[length(fits) + 1L]] <- fit_record(d, m, tst, "tight", order, s2)
  for (m in default_methods) for (tst in c("z", "knha"))
    fits[[length(fits) + 1L]] <- fit_record(d, m, tst, "default")
  moddata <- setNames(lapply(mods, function(col) if (is.numeric(d[[col]])) numv(d[[col]]) else
    I(as.character(d[[col]]))), mods)
  c(list(description = description, k = nrow(d), yi = numv(d$yi), vi = numv(d$vi),
         order = if (is.null(order)) NULL else numv(order), moderators = moddata,
         fits = fits), extra)
}

# --- data sets -------------------------------------------------------------------------------
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$alloc <- as.character(bcg$alloc)
molloy <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
hine <- escalc("RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hine1989)
bangert <- dat.bangertdrowns2004[!is.na(dat.bangertdrowns2004$length), ]  # complete cases

mr <- list()
for (f in list(~ablat, ~ablat + year, ~alloc)) for (m in c("REML", "ML", "DL", "PM", "EE"))
  for (tst in c("z", "knha")) mr[[length(mr) + 1L]] <- metareg_record(bcg, f, m, tst)
mr_bangert <- list()
for (m in c("REML", "DL")) for (tst in c("z", "knha"))
  mr_bangert[[length(mr_bangert) + 1L]] <- metareg_record(bangert, ~length, m, tst)

# The same data in other units: yi * c, vi * c^2 (and shifted by 1000 for the location).
rescaled <- function(d, c, shift = 0) { d$yi <- d$yi * c + shift; d$vi <- d$vi * c^2; d }

datasets <- list(
  bcg = dataset_record(
    bcg, "dat.bcg, log risk ratio (escalc RR), k = 13", order = bcg$year,
    mods = c("ablat", "year", "alloc"), default_methods = c("REML", "ML", "PM"),
    extra = list(metareg = mr,
                 subgroup = lapply(c("REML", "DL"), function(m) subgroup_record(bcg, "alloc", m)))),
  molloy2014 = dataset_record(
    molloy, "dat.molloy2014, Fisher z of correlations (escalc ZCOR), k = 16",
    order = molloy$year, default_methods = c("REML", "PM"),
    extra = list(ri = numv(molloy$ri), ni = numv(molloy$ni))),
  bcg_k3 = dataset_record(bcg[1:3, ], "dat.bcg rows 1-3, k = 3", order = bcg$year[1:3]),
  bcg_k2 = dataset_record(bcg[1:2, ], "dat.bcg rows 1-2, k = 2", order = bcg$year[1:2]),
  bcg_k1 = dataset_record(bcg[1, , drop = FALSE], "dat.bcg row 1, k = 1"),
  hine1989 = dataset_record(
    hine, "dat.hine1989, risk difference (escalc RD), homogeneous: tau2 = 0, k = 6",
    order = seq_len(nrow(hine))),
  bangertdrowns2004 = dataset_record(
    bangert, "dat.bangertdrowns2004 (rows with known length), standardized mean differences",
    order = bangert$year, mods = c("length"), extra = list(metareg = mr_bangert)),
  bcg_milli = dataset_record(
    rescaled(bcg, 1e-3), "dat.bcg with yi * 1e-3 and vi * 1e-6 (other units), k = 13",
    order = bcg$year, s2 = 1e-6, default_methods = c("REML", "PM")),
  bcg_kilo = dataset_record(
    rescaled(bcg, 1e3), "dat.bcg with yi * 1e3 and vi * 1e6 (other units), k = 13",
    order = bcg$year, s2 = 1e6),
  bcg_shifted = dataset_record(
    rescaled(bcg, 1, 1000), "dat.bcg with yi + 1000 (other origin), k = 13", order = bcg$year)
)

ref <- list(
  generated_by = "tests/reference/metafor_reference.R",
  R_version = paste(R.version$major, R.version$minor, sep = "."),
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  control = list(rma = list(threshold = num(1e-12), tol = num(1e-12)),
                 confint = list(tol = num(1e-12))),
  datasets = datasets
)
writeLines(toJSON(ref, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE, null = "null",
                  na = "null"), out_path)
cat("wrote", out_path, "\n")
