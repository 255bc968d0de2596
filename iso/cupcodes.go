package iso

// UnionPay domestic response codes whose meaning differs from ISO's or that ISO lacks.
const (
	RCCUPBatchOutOfSync = "77" // POS batch number differs from the network centre's: sign on
	RCCUPIssuerTimeout  = "98" // the switch got no answer from the issuer
	RCCUPPINFormat      = "99" // PIN block format error: sign on (PIN key out of sync)
	RCCUPMACError       = "A0" // MAC verification failed: sign on
	RCCUPSecurity       = "A7" // security processing failed (MAC/PIN key, key generation)
	RCCUPNotSignedOn    = "C1" // acquirer state illegal: terminal not signed on
	RCCUPCutover        = "90" // day-end cut-over in progress
	RCCUPNotRegistered  = "97" // terminal not registered
)

// Guidance keys the UnionPay table and the security layer add.
const (
	// GuidanceBatchOutOfSync: 77, the terminal's batch number is not the host's; the
	// terminal signs on (which syncs DE60.2) and the cashier repeats the sale.
	GuidanceBatchOutOfSync = "batch_out_of_sync"
	// GuidancePINFormatError: 99, the host could not read the PIN block (PIN key out of
	// sync); the terminal signs on, the customer enters the PIN again.
	GuidancePINFormatError = "pin_format_error"
	// GuidanceSecurityFailure: A7, the host's security processing failed.
	GuidanceSecurityFailure = "security_failure"
	// GuidanceNotSignedOn: C1, the terminal must sign on first.
	GuidanceNotSignedOn = "not_signed_on"
	// GuidanceKeyCheckFailed: sign-on delivered working keys whose check values do not
	// match (wrong master key in the terminal); nothing stored, no sales possible.
	GuidanceKeyCheckFailed = "key_check_failed"
	// GuidanceAnswerMACBad: the host's answer failed the terminal's MAC check; the terminal
	// treats it as unusable (reversal) and signs on again.
	GuidanceAnswerMACBad = "answer_mac_failed"
	// GuidanceChipDeclined: the host approved, but the chip refused the approval (its
	// check of the host's ARPC failed); the terminal reversed the transaction.
	GuidanceChipDeclined = "chip_declined_after_approval"
)

// cup is one row of the UnionPay table.
func cup(code, en, zh string, approved bool, retry Retry, guidance, action string) Code {
	return Code{Code: code, Meaning: en, MeaningZH: zh, Approved: approved, Retry: retry, Guidance: guidance, Action: action}
}

// cupCodes: public facts from Q/CUP 006.6 Annex A.2 and public terminal/host code
// (docs/domain.md §7), in our own words. 95 is kept from ISO so that posdrill's
// settlement (totals in DE74-88; DE48 with the cup dialect) works the same under either table.
var cupCodes = func() map[string]Code {
	rows := []Code{
		cup("00", "approved", "承兑或交易成功", true, RetryNotApplicable, GuidanceApproved, ActionNone),
		cup("01", "refer to card issuer", "请持卡人与发卡银行联系", false, RetryNo, GuidanceReferToIssuer, ActionNone),
		cup("03", "invalid merchant", "无效商户", false, RetryNo, GuidanceInvalidMerchant, ActionNone),
		cup("04", "pick up card", "此卡被没收", false, RetryNever, GuidancePickUpCard, ActionNone),
		cup("05", "do not honour (cardholder verification failed)", "持卡人认证失败", false, RetryOtherCard, GuidanceDoNotHonour, ActionNone),
		cup("10", "approved for partial amount", "显示部分批准金额，提示操作员", true, RetryNotApplicable, GuidancePartialApproval, ActionNone),
		cup("11", "approved (VIP)", "成功，VIP客户", true, RetryNotApplicable, GuidanceApproved, ActionNone),
		cup("12", "invalid related transaction", "无效的关联交易", false, RetryNo, GuidanceInvalidTransaction, ActionNone),
		cup("13", "invalid amount", "无效金额", false, RetryAfterFix, GuidanceInvalidAmount, ActionNone),
		cup("14", "invalid card number", "无效卡号", false, RetryReread, GuidanceInvalidCardNumber, ActionNone),
		cup("15", "no such issuer", "此卡无对应发卡方", false, RetryNo, GuidanceCardNotSupported, ActionNone),
		cup("22", "related transaction error (e.g. void after reversal)", "关联交易错误", false, RetryNever, GuidanceOriginalMismatch, ActionNone),
		cup("25", "original transaction not found", "找不到原始交易", false, RetryNotApplicable, GuidanceOriginalNotFound, ActionNone),
		cup("30", "format error", "报文格式错误", false, RetryOnce, GuidanceFormatError, ActionNone),
		cup("34", "suspected fraud", "有作弊嫌疑", false, RetryLater, GuidanceCardRestricted, ActionNone),
		cup("38", "PIN tries exceeded", "密码错误次数超限", false, RetryOtherCard, GuidancePINTriesExceeded, ActionNone),
		cup("40", "function not supported", "发卡方不支持的交易类型", false, RetryNo, GuidanceInvalidTransaction, ActionNone),
		cup("41", "lost card, pick up", "挂失卡，请没收", false, RetryNever, GuidancePickUpCard, ActionNone),
		cup("43", "stolen card, pick up", "被窃卡，请没收", false, RetryNever, GuidancePickUpCard, ActionNone),
		cup("45", "fallback not allowed, use the chip", "不允许降级交易，请使用IC卡", false, RetryReread, GuidanceNotPermitted, ActionNone),
		cup("51", "not sufficient funds", "余额不足", false, RetryAfterFix, GuidanceInsufficientFunds, ActionNone),
		cup("54", "expired card", "过期卡", false, RetryOtherCard, GuidanceExpiredCard, ActionNone),
		cup("55", "incorrect PIN", "密码错", false, RetryAfterFix, GuidanceIncorrectPIN, ActionNone),
		cup("57", "not permitted to cardholder", "不允许持卡人进行的交易", false, RetryNo, GuidanceNotPermitted, ActionNone),
		cup("58", "not permitted to terminal", "不允许终端进行的交易", false, RetryNo, GuidanceNotPermitted, ActionNone),
		cup("59", "suspected fraud", "有作弊嫌疑", false, RetryLater, GuidanceCardRestricted, ActionNone),
		cup("61", "exceeds amount limit", "超出金额限制", false, RetryLater, GuidanceLimitExceeded, ActionNone),
		cup("62", "restricted card", "受限制的卡", false, RetryLater, GuidanceCardRestricted, ActionNone),
		cup("64", "amount differs from the original", "原始金额不正确", false, RetryNever, GuidanceOriginalMismatch, ActionNone),
		cup("65", "exceeds frequency limit", "超出取款/消费次数限制", false, RetryLater, GuidanceLimitExceeded, ActionNone),
		cup("68", "issuer answered too late", "发卡行响应超时", false, RetryLater, GuidanceIssuerUnavailable, ActionNone),
		cup("75", "PIN tries exceeded", "允许的输入PIN次数超限", false, RetryOtherCard, GuidancePINTriesExceeded, ActionNone),
		cup(RCCUPBatchOutOfSync, "POS batch out of sync with the network centre: sign on", "POS批次与网络中心不一致，请向网络中心签到", false, RetryAfterAction, GuidanceBatchOutOfSync, ActionSignOn),
		cup(RCCUPCutover, "day-end cut-over in progress", "日期切换正在处理", false, RetryLater, GuidanceIssuerUnavailable, ActionNone),
		cup("91", "issuer inoperative", "发卡方状态不正常", false, RetryLater, GuidanceIssuerUnavailable, ActionNone),
		cup("92", "issuer unreachable", "发卡方线路异常", false, RetryLater, GuidanceIssuerUnavailable, ActionNone),
		cup("94", "duplicate transaction", "重复交易", false, RetryNever, GuidanceDuplicateTransmission, ActionNone),
		cup("95", "reconcile error: upload the batch", "对账不平，请批上送", false, RetryAfterAction, GuidanceReconcileError, ActionBatchUpload),
		cup("96", "switch malfunction", "交换中心系统故障", false, RetryLater, GuidanceIssuerUnavailable, ActionNone),
		cup(RCCUPNotRegistered, "terminal not registered", "终端未登记", false, RetryNo, GuidanceInvalidMerchant, ActionNone),
		cup(RCCUPIssuerTimeout, "no answer from the issuer", "交换中心收不到发卡方应答", false, RetryLater, GuidanceIssuerUnavailable, ActionNone),
		cup(RCCUPPINFormat, "PIN block format error: sign on", "PIN格式错，请重新签到", false, RetryAfterAction, GuidancePINFormatError, ActionSignOn),
		cup(RCCUPMACError, "MAC verification failed: sign on", "MAC校验错，请重新签到", false, RetryAfterAction, GuidanceMACError, ActionSignOn),
		cup(RCCUPSecurity, "security processing failed: sign on", "安全处理失败，请重新签到", false, RetryAfterAction, GuidanceSecurityFailure, ActionSignOn),
		cup(RCCUPNotSignedOn, "terminal not signed on", "受理方状态非法（未签到）", false, RetryAfterAction, GuidanceNotSignedOn, ActionSignOn),
	}
	m := make(map[string]Code, len(rows))
	for _, c := range rows {
		m[c.Code] = c
	}
	return m
}()
