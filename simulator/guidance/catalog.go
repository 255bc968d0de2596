package guidance

import (
	"slices"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// Lang is a catalog language.
type Lang string

// Catalog languages.
const (
	En Lang = "en" // English
	Zh Lang = "zh" // Simplified Chinese
)

// Entry is the guidance for one outcome in one language.
type Entry struct {
	Title string   // short, for a result screen
	What  string   // what happened, in words a cashier understands
	Steps []string // what to do at the till, in order (the renderer numbers them)
	Tell  string   // what to tell the customer
}

// Lookup returns the entry for a guidance key in a language. An unknown key gives a generic
// entry (never an empty one); an unknown language gives English.
func Lookup(key string, lang Lang) Entry {
	e, ok := catalog[key]
	if !ok {
		e = generic
	}
	if lang == Zh {
		return e.zh.clone()
	}
	return e.en.clone()
}

// Known reports whether the catalog has an entry for key.
func Known(key string) bool {
	_, ok := catalog[key]
	return ok
}

// Keys returns every guidance key of the catalog, sorted.
func Keys() []string {
	keys := make([]string, 0, len(catalog))
	for k := range catalog {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DetectLang picks the language from the locale environment: the first non-empty of
// LC_ALL, LC_MESSAGES and LANG (POSIX precedence); a value starting with "zh" (zh_CN.UTF-8,
// zh_TW, zh) gives Zh, anything else En. env is usually os.Getenv.
func DetectLang(env func(string) string) Lang {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if s := strings.TrimSpace(env(v)); s != "" {
			if strings.HasPrefix(strings.ToLower(s), "zh") {
				return Zh
			}
			return En
		}
	}
	return En
}

func (e Entry) clone() Entry {
	e.Steps = slices.Clone(e.Steps)
	return e
}

type pair struct{ en, zh Entry }

// generic is returned for keys the catalog does not know.
var generic = pair{
	en: Entry{
		Title: "Check the result",
		What:  "The terminal reported a result this guide does not cover. Do not assume the payment went through.",
		Steps: []string{
			"Do not hand over the goods as paid unless the terminal shows Approved.",
			"Check the status of the last transaction before trying again.",
			"Call the help desk and read them the message on the screen.",
		},
		Tell: "Let me check the payment status first, so you are not charged twice.",
	},
	zh: Entry{
		Title: "请核实交易结果",
		What:  "终端给出了一个本指南没有覆盖的结果，不要默认付款已经成功。",
		Steps: []string{
			"除非终端显示“交易成功”，否则不要当作已付款交货。",
			"重试之前，先查询最后一笔交易的状态。",
			"联系技术支持，把屏幕上的提示念给他们听。",
		},
		Tell: "我先查一下付款状态，免得重复扣您的钱。",
	},
}

var catalog = map[string]pair{
	// --- host response codes ---------------------------------------------------------
	iso.GuidanceApproved: {
		en: Entry{
			Title: "Approved",
			What:  "The bank approved the payment. The money will be taken from the customer's account.",
			Steps: []string{
				"Give the card back to the customer.",
				"Hand over the customer copy of the receipt; if a signature is required, have the customer sign the merchant copy and keep it.",
				"Finish the sale in the till system.",
			},
			Tell: "The payment went through. Here is your receipt.",
		},
		zh: Entry{
			Title: "交易成功",
			What:  "银行已批准这笔付款，款项会从顾客账户扣除。",
			Steps: []string{
				"把卡还给顾客。",
				"把持卡人联签购单交给顾客；需要签名的，请顾客在商户联上签字并留存。",
				"在收银系统里完成这笔销售。",
			},
			Tell: "付款成功了，这是您的小票。",
		},
	},
	iso.GuidancePartialApproval: {
		en: Entry{
			Title: "Partly approved",
			What:  "The bank approved only part of the amount. The rest is still unpaid.",
			Steps: []string{
				"Read the approved amount and the amount still due on the screen or receipt.",
				"Ask the customer how they want to pay the rest: another card, cash or another method.",
				"If the customer does not want to pay the rest, void the partial payment on the terminal so the approved part is released. Do not just leave it.",
				"Hand over the goods only when the full amount is paid.",
			},
			Tell: "Your card covered only part of the total. How would you like to pay the rest? If you prefer, I can cancel it and the part already approved will be released.",
		},
		zh: Entry{
			Title: "部分批准",
			What:  "银行只批准了一部分金额，剩下的钱还没有付。",
			Steps: []string{
				"看清屏幕或小票上已批准的金额和还差的金额。",
				"问顾客剩下的部分怎么付：换一张卡、现金或其他方式。",
				"如果顾客不想付剩下的部分，请在终端上撤销这笔部分付款，让已批准的金额退回，不要放着不管。",
				"全部金额付清后再交货。",
			},
			Tell: "这张卡只付了一部分，还差一些。剩下的您想怎么付？如果不想继续，我可以把这笔撤销，已批准的部分会退回。",
		},
	},
	iso.GuidanceReferToIssuer: {
		en: Entry{
			Title: "Refer to card issuer",
			What:  "The customer's bank wants to check something before it approves. The payment was not approved.",
			Steps: []string{
				"If your shop uses voice referral, call the authorisation number your help desk gave you and follow their instructions; key in an approval code only if they give you one.",
				"Otherwise ask for another card or another way to pay.",
				"Do not keep trying the same card on the terminal.",
			},
			Tell: "Your bank needs to talk to you about this payment. You can try another card, or call the number on the back of your card.",
		},
		zh: Entry{
			Title: "请联系发卡行",
			What:  "顾客的发卡银行需要先核实情况，这笔付款没有被批准。",
			Steps: []string{
				"如果本店支持电话授权，拨打技术支持提供的授权电话并按指示操作；只有拿到授权码才可以输入。",
				"否则请顾客换一张卡或换其他付款方式。",
				"不要在终端上用同一张卡反复重试。",
			},
			Tell: "您的银行需要和您确认一下这笔付款。您可以换一张卡，或者拨打卡背面的银行客服电话。",
		},
	},
	iso.GuidanceInvalidMerchant: {
		en: Entry{
			Title: "Shop not set up",
			What:  "The bank does not recognise this shop or terminal. This is a set-up problem on our side, not a problem with the customer's card.",
			Steps: []string{
				"Do not retry; it will keep failing.",
				"Take another payment method.",
				"Call the payment help desk and give them the terminal ID and the time.",
				"Tell your manager so the other tills can be checked.",
			},
			Tell: "Sorry, the problem is with our card terminal, not with your card. Could you pay another way this time?",
		},
		zh: Entry{
			Title: "商户设置有误",
			What:  "银行不认识本店或这台终端。这是我们这边的设置问题，不是顾客的卡有问题。",
			Steps: []string{
				"不要重试，重试还是会失败。",
				"请顾客用店里支持的其他方式付款。",
				"联系收单机构客服，报上终端号和交易时间。",
				"告诉店长，检查其他收银台是否也有同样问题。",
			},
			Tell: "不好意思，是我们刷卡机的问题，不是您的卡。这次能换个方式付款吗？",
		},
	},
	iso.GuidancePickUpCard: {
		en: Entry{
			Title: "Card refused — keep card",
			What:  "The bank refused the payment and asked for the card to be kept, often because it was reported lost or stolen.",
			Steps: []string{
				"Do not try the card again.",
				"Stay calm and polite. Do not accuse the customer; there may be an innocent explanation.",
				"Follow your shop's card pick-up procedure: keep the card only if it is safe to do so, never put yourself at risk.",
				"Tell your manager and note the time and the terminal ID.",
				"Offer another way to pay.",
			},
			Tell: "I'm sorry, your bank has refused this card and asked us to hold on to it. Please contact your bank; they can explain. Would you like to pay another way?",
		},
		zh: Entry{
			Title: "此卡被拒，请留卡",
			What:  "银行拒绝了这笔付款，并要求收回这张卡，常见原因是卡片已挂失或被盗。",
			Steps: []string{
				"不要再用这张卡重试。",
				"保持冷静、礼貌，不要指责顾客，可能另有原因。",
				"按本店的收卡流程处理：确认安全才留下卡片，绝不让自己冒险。",
				"告诉店长，记下时间和终端号。",
				"请顾客换其他方式付款。",
			},
			Tell: "抱歉，银行拒绝了这张卡，并要求我们先保留。具体情况请您联系发卡银行。您要换个方式付款吗？",
		},
	},
	iso.GuidanceDoNotHonour: {
		en: Entry{
			Title: "Declined by the bank",
			What:  "The customer's bank declined the payment without giving a reason.",
			Steps: []string{
				"Do not keep retrying the same card.",
				"Ask for another card or another way to pay.",
				"Suggest the customer calls their bank later.",
			},
			Tell: "Your bank declined this payment and didn't give us a reason. Could you try another card? Your bank can tell you more.",
		},
		zh: Entry{
			Title: "银行拒绝交易",
			What:  "顾客的发卡行拒绝了这笔付款，没有说明原因。",
			Steps: []string{
				"不要用同一张卡反复重试。",
				"请顾客换一张卡或换其他付款方式。",
				"建议顾客之后联系自己的银行。",
			},
			Tell: "银行拒绝了这笔付款，没有告诉我们原因。您换一张卡试试？具体原因您的银行可以查到。",
		},
	},
	iso.GuidanceInvalidTransaction: {
		en: Entry{
			Title: "Not allowed for this card",
			What:  "This kind of transaction is not allowed for this card (for example a refund or pre-authorisation on a card that does not support it).",
			Steps: []string{
				"Do not repeat the same transaction.",
				"Check that you chose the right type: sale, refund or pre-authorisation.",
				"If the type was right, ask for another card or another way to pay.",
			},
			Tell: "This card can't be used for this kind of payment. Do you have another card, or another way to pay?",
		},
		zh: Entry{
			Title: "交易类型不支持",
			What:  "这张卡不支持这种交易（比如不支持退货或预授权）。",
			Steps: []string{
				"不要重复做同一笔交易。",
				"检查交易类型有没有选对：消费、退货还是预授权。",
				"如果没选错，请顾客换卡或换其他付款方式。",
			},
			Tell: "这张卡不能做这种付款。您有别的卡或其他付款方式吗？",
		},
	},
	iso.GuidanceInvalidAmount: {
		en: Entry{
			Title: "Amount not accepted",
			What:  "The bank rejected the amount. Usually it was keyed wrong: zero, an extra digit, or the decimal point in the wrong place.",
			Steps: []string{
				"Compare the amount on the terminal with the total in the till.",
				"Cancel and key the amount in again, carefully.",
				"If the correct amount is rejected again, call the help desk.",
			},
			Tell: "The amount went in wrong. Let me enter it again.",
		},
		zh: Entry{
			Title: "金额有误",
			What:  "银行不接受这个金额，通常是输错了：金额为零、多输了一位，或者小数点位置不对。",
			Steps: []string{
				"对照终端上的金额和收银系统的应收金额。",
				"取消后重新仔细输入金额。",
				"金额正确仍被拒绝的话，联系技术支持。",
			},
			Tell: "刚才金额输得不对，我重新输一遍。",
		},
	},
	iso.GuidanceInvalidCardNumber: {
		en: Entry{
			Title: "Card not read correctly",
			What:  "The card number could not be used. The card may have been read badly, or it may be damaged.",
			Steps: []string{
				"Ask the customer to insert or tap the card again; wipe the chip if it is dirty.",
				"Try only once more.",
				"If it fails again the card may be damaged: ask for another card.",
				"Never type the card number in by hand.",
			},
			Tell: "The terminal couldn't read your card properly. Could you insert it again? If it still fails, the card may be damaged and your bank can replace it.",
		},
		zh: Entry{
			Title: "读卡失败",
			What:  "卡号无法使用，可能是这次没读好，也可能是卡片损坏了。",
			Steps: []string{
				"请顾客重新插卡或挥卡；芯片脏了可以先擦一擦。",
				"只再试一次。",
				"还不行的话卡可能坏了，请顾客换一张卡。",
				"不要手工输入卡号。",
			},
			Tell: "机器没读好您的卡，麻烦再插一次。如果还不行，可能是卡片坏了，可以找银行换张新卡。",
		},
	},
	iso.GuidanceCardNotSupported: {
		en: Entry{
			Title: "Card not supported",
			What:  "This card cannot be processed here: the payment network does not know the card's bank, or cannot reach it.",
			Steps: []string{
				"Do not retry this card.",
				"Ask for another card (of a different brand) or another way to pay.",
				"If every card of the same brand fails, tell your manager or the help desk.",
			},
			Tell: "I'm sorry, we can't take this card here. Do you have another card or another way to pay?",
		},
		zh: Entry{
			Title: "不支持此卡",
			What:  "这张卡在本店无法受理：支付网络找不到这张卡的发卡机构，或者联系不上它。",
			Steps: []string{
				"不要用这张卡重试。",
				"请顾客换一张其他卡组织的卡，或换其他方式付款。",
				"如果同一种卡全都失败，告诉店长或联系技术支持。",
			},
			Tell: "不好意思，本店暂时不能受理这张卡。您有别的卡或其他付款方式吗？",
		},
	},
	iso.GuidanceReEnterTransaction: {
		en: Entry{
			Title: "Try again once",
			What:  "The system asks for the transaction to be sent again. Nothing was charged.",
			Steps: []string{
				"Start the same sale once more.",
				"If it fails a second time, stop and take another payment method.",
				"Report repeated failures to the help desk.",
			},
			Tell: "The system asked me to try again. One moment, please.",
		},
		zh: Entry{
			Title: "请重试一次",
			What:  "系统要求重新发起这笔交易，这次没有扣款。",
			Steps: []string{
				"重新做一次同样的消费。",
				"第二次还失败的话就不要再试，请顾客换其他方式付款。",
				"经常出现时报告技术支持。",
			},
			Tell: "系统让我再试一次，请稍等。",
		},
	},
	iso.GuidanceOriginalNotFound: {
		en: Entry{
			Title: "Nothing to undo",
			What:  "The terminal tried to cancel an earlier payment, but the bank has no record of it. That payment never reached the bank, so nothing was charged.",
			Steps: []string{
				"Nothing to do at the till; the cancellation is finished.",
				"If the customer still has to pay, start a new sale.",
			},
			Tell: "The earlier attempt was never charged; nothing from it will appear on your account.",
		},
		zh: Entry{
			Title: "无需撤销",
			What:  "终端想撤销之前的一笔付款，但银行没有这笔记录。说明那笔根本没到银行，没有扣款。",
			Steps: []string{
				"收银台不需要做任何操作，撤销已经完成。",
				"如果顾客还需要付款，重新发起一笔消费。",
			},
			Tell: "刚才那次没有扣到您的钱，您的账户上不会有这笔记录。",
		},
	},
	iso.GuidanceOriginalMismatch: {
		en: Entry{
			Title: "Cancellation needs the back office",
			What:  "The terminal tried to cancel an earlier payment, but the bank's record of it does not match. The terminal stopped trying and flagged it for a person to check.",
			Steps: []string{
				"Do not refund or charge again by hand.",
				"Note the time, amount and terminal ID; print the last transaction if you can.",
				"Pass it to your manager or back office to sort out with the payment provider.",
				"Take the customer's contact details so you can tell them the outcome.",
			},
			Tell: "Your earlier payment attempt has to be checked by our back office. If any money was held, it will be put right, and we will contact you once it's done.",
		},
		zh: Entry{
			Title: "撤销需后台处理",
			What:  "终端想撤销之前的一笔付款，但银行那边的记录对不上。终端已经停止自动处理，并标记出来等人工核对。",
			Steps: []string{
				"不要手工退款，也不要重新扣款。",
				"记下时间、金额和终端号；能打印的话打印最后一笔交易。",
				"交给店长或后台，由他们和收单机构核对处理。",
				"留下顾客的联系方式，处理完后告知结果。",
			},
			Tell: "您之前那笔付款需要我们后台再核对一下。如果有被冻结的金额，会给您处理好，处理完我们会联系您。",
		},
	},
	iso.GuidanceFormatError: {
		en: Entry{
			Title: "Message error",
			What:  "The bank could not read the message from the terminal. This is a terminal or system set-up problem, not the customer's card.",
			Steps: []string{
				"Try the transaction once more.",
				"If it fails again, stop and take another payment method.",
				"Call the help desk with the terminal ID and the time.",
			},
			Tell: "Our terminal has a technical problem. Let me try once more; otherwise could you pay another way?",
		},
		zh: Entry{
			Title: "报文格式错误",
			What:  "银行读不懂终端发过去的交易信息。这是终端或系统设置的问题，不是顾客的卡有问题。",
			Steps: []string{
				"再试一次。",
				"还失败就不要再试，请顾客换其他方式付款。",
				"联系技术支持，报上终端号和时间。",
			},
			Tell: "我们的刷卡机出了点技术问题。我再试一次，不行的话麻烦您换个方式付款。",
		},
	},
	iso.GuidanceInsufficientFunds: {
		en: Entry{
			Title: "Insufficient funds",
			What:  "The bank declined: there is not enough money or credit on the card for this amount.",
			Steps: []string{
				"Tell the customer discreetly; keep your voice down.",
				"Offer another card or method, or a split payment: a smaller amount on this card and the rest another way.",
				"Do not retry the same amount on the same card.",
			},
			Tell: "The bank didn't accept this card for this amount. Would you like to use another card, or pay part of it another way?",
		},
		zh: Entry{
			Title: "余额不足",
			What:  "银行拒绝了：卡里的余额或可用额度不够付这个金额。",
			Steps: []string{
				"小声、委婉地告诉顾客，别让旁人听到。",
				"建议换一张卡或换其他方式，也可以分开付：这张卡付一部分（金额小一些），剩下的用别的方式。",
				"不要用同一张卡按原金额反复重试。",
			},
			Tell: "银行没有通过这个金额。您要换张卡，还是分开付一部分？",
		},
	},
	iso.GuidanceExpiredCard: {
		en: Entry{
			Title: "Card expired",
			What:  "The bank declined because the card has expired.",
			Steps: []string{
				"Look at the expiry date printed on the card (month/year) together with the customer.",
				"Ask for another card or another way to pay.",
				"Do not retry this card.",
			},
			Tell: "It looks like this card has expired; you can see the date on the card. Do you have another one? Your bank can send you a new card.",
		},
		zh: Entry{
			Title: "卡片已过期",
			What:  "银行拒绝了，因为这张卡已经过了有效期。",
			Steps: []string{
				"和顾客一起看看卡面上印的有效期（月/年）。",
				"请顾客换一张卡或换其他方式付款。",
				"不要再用这张卡重试。",
			},
			Tell: "这张卡好像已经过期了，卡面上有有效期。您有别的卡吗？银行可以给您补发新卡。",
		},
	},
	iso.GuidanceIncorrectPIN: {
		en: Entry{
			Title: "Wrong PIN",
			What:  "The PIN entered was not correct.",
			Steps: []string{
				"Ask the customer to enter the PIN again, slowly, shielding the keypad.",
				"Never ask the customer to tell you the PIN.",
				"Too many wrong tries will lock the card; if the customer is unsure, suggest another card.",
			},
			Tell: "The PIN wasn't accepted. Would you like to try again? Please cover the keypad with your hand.",
		},
		zh: Entry{
			Title: "密码错误",
			What:  "输入的密码不正确。",
			Steps: []string{
				"请顾客重新输入密码，慢慢输，并用手遮挡键盘。",
				"绝对不要让顾客把密码告诉你。",
				"密码错太多次卡会被锁；顾客记不清的话，建议换一张卡。",
			},
			Tell: "密码没有通过，您要再试一次吗？输入时请用手挡一下键盘。",
		},
	},
	iso.GuidancePINTriesExceeded: {
		en: Entry{
			Title: "PIN locked",
			What:  "The PIN was entered wrong too many times. The card cannot be used with a PIN for now.",
			Steps: []string{
				"Do not retry this card.",
				"Ask for another card or another way to pay.",
				"Suggest the customer contacts their bank to unlock the PIN.",
			},
			Tell: "The PIN was entered wrong too many times, so the card is locked for now. Your bank can unlock it. Could you pay another way?",
		},
		zh: Entry{
			Title: "密码错误次数超限",
			What:  "密码输错次数太多，这张卡暂时不能用密码付款了。",
			Steps: []string{
				"不要再用这张卡重试。",
				"请顾客换一张卡或换其他方式付款。",
				"建议顾客联系发卡行解锁密码。",
			},
			Tell: "密码输错次数太多，卡暂时被锁住了，需要联系银行解锁。您换个方式付款可以吗？",
		},
	},
	iso.GuidanceNotPermitted: {
		en: Entry{
			Title: "Not allowed here",
			What:  "This card or payment method is not allowed for this purchase or at this terminal (for example some wallets or foreign cards).",
			Steps: []string{
				"Do not retry.",
				"Tell the customer which payment methods the shop accepts.",
				"Take another payment method.",
			},
			Tell: "I'm sorry, this card or payment method can't be used here. Could you pay with another card or another way?",
		},
		zh: Entry{
			Title: "此处不可使用",
			What:  "这张卡或这种付款方式不能用于这笔交易或这台终端（比如某些电子钱包或境外卡）。",
			Steps: []string{
				"不要重试。",
				"告诉顾客本店支持哪些付款方式。",
				"请顾客换其他方式付款。",
			},
			Tell: "不好意思，这种卡或付款方式在本店用不了。您换一张卡或用其他方式可以吗？",
		},
	},
	iso.GuidanceCardRestricted: {
		en: Entry{
			Title: "Card declined",
			What:  "The bank declined the card because of a security check or a restriction on the card. That is between the customer and their bank.",
			Steps: []string{
				"Do not retry the card.",
				"Do not tell the customer or anyone nearby that fraud is suspected; just say the bank declined it.",
				"Ask for another card or another way to pay.",
				"If something felt wrong, tell your manager quietly afterwards.",
			},
			Tell: "The bank declined this card. Could you try another one? Your bank can tell you why.",
		},
		zh: Entry{
			Title: "银行拒绝此卡",
			What:  "银行出于安全检查或卡片使用限制拒绝了这张卡，具体原因需要顾客和银行之间处理。",
			Steps: []string{
				"不要用这张卡重试。",
				"不要对顾客或旁人说“怀疑盗刷”之类的话，只说银行拒绝了。",
				"请顾客换卡或换其他方式付款。",
				"如果觉得情况可疑，事后私下告诉店长。",
			},
			Tell: "银行没有通过这张卡。您换一张卡试试？具体原因可以问一下您的银行。",
		},
	},
	iso.GuidanceLimitExceeded: {
		en: Entry{
			Title: "Card limit reached",
			What:  "The card has reached a limit set by the bank (on the amount or on the number of payments).",
			Steps: []string{
				"Do not retry the same amount.",
				"Offer another card, another payment method, or a split payment.",
				"The card may work again later, once the limit resets.",
			},
			Tell: "Your card has reached a limit set by your bank. Would you like to use another card, or split the payment?",
		},
		zh: Entry{
			Title: "超出限额",
			What:  "这张卡已经达到银行设定的限额（金额或次数）。",
			Steps: []string{
				"不要按原金额重试。",
				"建议换一张卡、换其他方式，或者分开付款。",
				"等限额恢复后，这张卡可能又能用了。",
			},
			Tell: "您这张卡达到了银行设定的限额。您要换张卡，还是分开付？",
		},
	},
	iso.GuidanceIssuerUnavailable: {
		en: Entry{
			Title: "Bank not available",
			What:  "The customer's bank or the payment network is temporarily unavailable. Nothing was charged.",
			Steps: []string{
				"Wait a minute, then try once more.",
				"If it fails again, take another payment method.",
				"If every card fails, call the help desk; it may be a wider outage.",
			},
			Tell: "The bank's system isn't responding right now. Let me try once more in a moment; otherwise could you pay another way?",
		},
		zh: Entry{
			Title: "银行系统暂不可用",
			What:  "顾客的银行或支付网络暂时不可用，这次没有扣款。",
			Steps: []string{
				"等一两分钟，再试一次。",
				"还不行就请顾客换其他方式付款。",
				"如果什么卡都刷不了，联系技术支持，可能是大范围故障。",
			},
			Tell: "银行系统现在没有响应，我过一会儿再试一次；不行的话麻烦您换个方式付款。",
		},
	},
	iso.GuidanceDuplicateTransmission: {
		en: Entry{
			Title: "Possible duplicate — check first",
			What:  "The bank thinks this is a repeat of a payment it has already received. The earlier one may have gone through.",
			Steps: []string{
				"Do not key the payment in again.",
				"Check the last transaction on the terminal (last transaction or reprint) or in the back office.",
				"If the earlier payment was approved, the customer has already paid: reprint that receipt.",
				"If it was not approved, call the help desk before charging again.",
			},
			Tell: "The bank says this payment may already have been sent. Let me check whether the earlier one went through, so you aren't charged twice.",
		},
		zh: Entry{
			Title: "疑似重复交易，请先查询",
			What:  "银行认为这笔是之前已经收到过的付款的重复，上一笔可能已经成功了。",
			Steps: []string{
				"不要重新输入这笔付款。",
				"先在终端上查询最后一笔交易（或重打印），或者在后台查看状态。",
				"上一笔已经成功的话，顾客已经付过款了，给顾客重打印那张小票。",
				"上一笔没有成功的话，先联系技术支持，再决定是否重新收款。",
			},
			Tell: "银行提示这笔付款可能已经发过了。我先查一下上一笔有没有成功，免得重复扣您的钱。",
		},
	},
	iso.GuidanceReconcileError: {
		en: Entry{
			Title: "Settlement totals differ",
			What:  "At end of day the terminal's totals did not match the bank's. The terminal sends its transactions one by one, then settles again.",
			Steps: []string{
				"Let the terminal finish sending; do not switch it off.",
				"Run settlement again when the terminal asks for it.",
				"If it still fails, print the detail report and call the help desk.",
			},
			Tell: "Nothing to tell customers; their payments are not affected.",
		},
		zh: Entry{
			Title: "结算对账不平",
			What:  "日终结算时，终端的合计和银行的对不上。终端会把交易逐笔上送，然后重新结算。",
			Steps: []string{
				"让终端自己上送完，不要关机。",
				"终端提示时再做一次结算。",
				"还是失败的话，打印明细报表，联系技术支持。",
			},
			Tell: "不需要告诉顾客，顾客的付款不受影响。",
		},
	},
	iso.GuidanceMACError: {
		en: Entry{
			Title: "Security check failed",
			What:  "The bank could not verify the terminal's security code on the message; the terminal's keys probably need refreshing. Nothing was charged.",
			Steps: []string{
				"Do not keep retrying sales.",
				"If the terminal menu has sign-on or key download, run it once.",
				"If it still fails, call the help desk.",
				"Meanwhile take other payment methods.",
			},
			Tell: "Our card terminal has a technical problem at the moment. Could you pay another way?",
		},
		zh: Entry{
			Title: "安全校验失败",
			What:  "银行无法校验终端发来信息的安全码，通常是终端密钥需要更新。这次没有扣款。",
			Steps: []string{
				"不要反复重试消费。",
				"如果终端菜单里有“签到”或“密钥下载”，执行一次。",
				"还不行就联系技术支持。",
				"在此期间请顾客用其他方式付款。",
			},
			Tell: "我们的刷卡机现在有点技术问题，您能换个方式付款吗？",
		},
	},
	iso.GuidanceUnknownCode: {
		en: Entry{
			Title: "Unexpected answer",
			What:  "The bank sent a code this terminal does not know. Treat the payment as not approved.",
			Steps: []string{
				"Do not hand over the goods as paid.",
				"Check the status of the last transaction before trying again.",
				"Note the code on the screen and call the help desk.",
			},
			Tell: "The payment didn't go through as expected. Let me check it before we try again, so you aren't charged twice.",
		},
		zh: Entry{
			Title: "未知应答",
			What:  "银行返回了一个终端不认识的代码，请按付款未成功处理。",
			Steps: []string{
				"不要当作已付款交货。",
				"重试之前先查询最后一笔交易的状态。",
				"记下屏幕上的代码，联系技术支持。",
			},
			Tell: "这笔付款结果不太正常，我先查一下再重试，免得重复扣款。",
		},
	},

	iso.GuidanceBatchOutOfSync: {
		en: Entry{
			Title: "Terminal out of step — signing on",
			What:  "The bank says the terminal's batch number is not the one it expects (code 77). Nothing was charged. The terminal signs on again, which puts the batch number back in step.",
			Steps: []string{
				"Wait until the terminal shows it has signed on (or run Sign on from the menu).",
				"Then start the sale again.",
				"If 77 comes back after a sign-on, settle the batch and call the help desk.",
			},
			Tell: "The terminal needs a moment to reconnect to the bank. Let me run the payment again.",
		},
		zh: Entry{
			Title: "批次不一致，正在签到",
			What:  "银行提示终端的批次号与网络中心不一致（77），这笔没有扣款。终端会重新签到，签到后批次号恢复一致。",
			Steps: []string{
				"等终端显示签到成功（或在菜单里手动签到）。",
				"然后重新发起这笔消费。",
				"签到后仍然返回77的，先做结算，再联系技术支持。",
			},
			Tell: "终端需要重新连一下银行，我马上再刷一次。",
		},
	},
	iso.GuidancePINFormatError: {
		en: Entry{
			Title: "PIN could not be read — signing on",
			What:  "The bank could not read the encrypted PIN (code 99): the terminal's PIN key is out of step. Nothing was charged. The terminal signs on again for fresh keys.",
			Steps: []string{
				"Wait until the terminal has signed on.",
				"Start the sale again and let the customer enter the PIN again; never reuse the old attempt.",
				"If 99 comes back after a sign-on, call the help desk (the terminal's keys need checking).",
			},
			Tell: "The terminal had a technical hiccup with your PIN. Please enter it once more.",
		},
		zh: Entry{
			Title: "密码格式错，正在签到",
			What:  "银行无法解出加密的密码（99），通常是终端的PIN密钥与主机不同步。这笔没有扣款，终端会重新签到更新密钥。",
			Steps: []string{
				"等终端签到成功。",
				"重新发起交易，请顾客重新输入密码，不要沿用上一次的输入。",
				"签到后仍然返回99的，联系技术支持检查终端密钥。",
			},
			Tell: "刚才终端处理密码出了点问题，麻烦您再输一次密码。",
		},
	},
	iso.GuidanceSecurityFailure: {
		en: Entry{
			Title: "Bank security check failed — signing on",
			What:  "The bank's security processing failed for this message (code A7). Nothing was charged. The terminal signs on again for fresh keys.",
			Steps: []string{
				"Wait until the terminal has signed on, then start the sale again.",
				"If it fails again, stop retrying and call the help desk.",
				"Meanwhile take other payment methods.",
			},
			Tell: "Our card terminal has a technical problem at the moment. Let me try once more, or could you pay another way?",
		},
		zh: Entry{
			Title: "安全处理失败，正在签到",
			What:  "银行对这条报文的安全处理失败（A7），这笔没有扣款。终端会重新签到更新密钥。",
			Steps: []string{
				"等终端签到成功后，重新发起交易。",
				"再次失败就不要反复重试，联系技术支持。",
				"在此期间请顾客用其他方式付款。",
			},
			Tell: "刷卡机暂时有点技术问题，我再试一次；不行的话您能换个方式付款吗？",
		},
	},
	iso.GuidanceNotSignedOn: {
		en: Entry{
			Title: "Terminal not signed on",
			What:  "The bank refused the message because the terminal has not signed on today. Nothing was charged.",
			Steps: []string{
				"Let the terminal sign on (or run Sign on from the menu).",
				"Then start the sale again.",
			},
			Tell: "The terminal needs to connect to the bank first. One moment, please.",
		},
		zh: Entry{
			Title: "终端未签到",
			What:  "终端今天还没有签到，银行拒绝了这条报文。这笔没有扣款。",
			Steps: []string{
				"让终端签到（或在菜单里手动签到）。",
				"然后重新发起交易。",
			},
			Tell: "终端要先连上银行，请稍等。",
		},
	},
	iso.GuidanceKeyCheckFailed: {
		en: Entry{
			Title: "Sign-on failed: key check",
			What:  "The bank sent new security keys at sign-on, but they did not pass the terminal's check: the terminal's master key does not match the bank's. The keys were not stored; no card payments are possible until this is fixed.",
			Steps: []string{
				"Do not keep retrying sign-on.",
				"Call the help desk: the terminal's master key must be loaded again (key injection).",
				"Meanwhile take other payment methods.",
			},
			Tell: "Our card terminal cannot take cards at the moment. Could you pay another way?",
		},
		zh: Entry{
			Title: "签到失败：密钥校验错",
			What:  "签到时银行下发了新的工作密钥，但没有通过终端的校验值检查，说明终端主密钥与银行的不一致。密钥没有保存，修好之前不能刷卡。",
			Steps: []string{
				"不要反复签到。",
				"联系技术支持，重新灌装终端主密钥。",
				"在此期间请顾客用其他方式付款。",
			},
			Tell: "刷卡机暂时不能刷卡，您能换个方式付款吗？",
		},
	},
	iso.GuidanceAnswerMACBad: {
		en: Entry{
			Title: "Bank answer failed the check — cancelled",
			What:  "An answer came back, but its security code (MAC) did not check out, so the terminal could not trust it. It cancelled the payment automatically (reversal) and signs on again for fresh keys. Do not treat the payment as approved.",
			Steps: []string{
				"Do not hand over the goods as paid and do not refund anything by hand.",
				"Wait until the terminal has signed on, then start a new sale if the customer still wants to pay.",
				"If it happens again, call the help desk.",
			},
			Tell: "The payment did not complete and has been cancelled; any hold on your card will be released. Let me run it again.",
		},
		zh: Entry{
			Title: "应答校验失败，已冲正",
			What:  "收到了银行应答，但应答的MAC校验不通过，终端不能采信，已自动冲正并重新签到更新密钥。不要当作付款成功。",
			Steps: []string{
				"不要当作已付款交货，也不要手工退款。",
				"等终端签到成功后，顾客仍要付款的话，重新发起一笔消费。",
				"再次出现就联系技术支持。",
			},
			Tell: "这笔付款没有完成，已经撤销，卡上如有冻结会自动释放。我再帮您刷一次。",
		},
	},

	iso.GuidanceChipDeclined: {
		en: Entry{
			Title: "Card refused the approval — cancelled",
			What:  "The bank approved, but the card's chip did not accept the bank's answer (its security check failed), so the chip declined and the terminal cancelled the payment automatically (reversal). The customer has not been charged.",
			Steps: []string{
				"Do not hand over the goods as paid and do not refund anything by hand.",
				"Try the sale once more with the chip; if it happens again, ask for another card or payment method.",
				"If it happens with many cards, call the help desk.",
			},
			Tell: "Your card did not accept the payment, so it was cancelled and you were not charged. Shall we try once more?",
		},
		zh: Entry{
			Title: "芯片拒绝批准，已冲正",
			What:  "银行已批准，但卡片芯片没有通过银行应答的安全校验，芯片拒绝了交易，终端已自动冲正。顾客没有被扣款。",
			Steps: []string{
				"不要当作已付款交货，也不要手工退款。",
				"再插卡试一次；仍然失败就请顾客换卡或换其他方式付款。",
				"很多卡都出现这种情况时，联系技术支持。",
			},
			Tell: "您的卡没有接受这笔付款，已经撤销，没有扣款。我们再试一次好吗？",
		},
	},

	// --- terminal-side outcomes -------------------------------------------------------
	iso.GuidanceAnswerMismatch: {
		en: Entry{
			Title: "Bank answer did not match — cancelled",
			What:  "An answer came back, but it was not about this payment as asked: another amount, currency, transaction type, terminal or merchant, or a partial approval without a usable amount. The terminal did not treat it as approved and cancelled the payment automatically (reversal). Do not treat the payment as approved.",
			Steps: []string{
				"Do not hand over the goods as paid and do not refund anything by hand.",
				"If the customer still wants to pay, start a new sale.",
				"Tell the help desk: an answer that does not match its request points at the host or something between us and it.",
			},
			Tell: "The bank's answer did not match this payment, so it has been cancelled and you have not been charged; any hold on your card will be released. Let me run it again.",
		},
		zh: Entry{
			Title: "应答与请求不符，已冲正",
			What:  "收到了银行应答，但内容与这笔交易不符（金额、币种、交易类型、终端号或商户号不同，或部分承兑没有可用金额）。终端没有当作成功，已自动冲正。不要当作付款成功。",
			Steps: []string{
				"不要当作已付款交货，也不要手工退款。",
				"顾客仍要付款的话，重新发起一笔消费。",
				"告知技术支持：应答与请求不符，说明主机或中间环节有问题。",
			},
			Tell: "银行的应答与这笔付款不符，交易已经撤销，您没有被扣款，卡上如有冻结会自动释放。我再帮您刷一次。",
		},
	},
	iso.GuidanceNoAnswerReversed: {
		en: Entry{
			Title: "No answer — cancelled",
			What:  "The bank did not answer in time, so the terminal cancelled the payment automatically and the bank confirmed it. The customer has not been charged.",
			Steps: []string{
				"Do not refund anything by hand; there is nothing to refund.",
				"If the customer wants to pay again, start a new sale.",
				"If this happens often, check the network connection and tell the help desk.",
			},
			Tell: "The bank didn't answer in time, so the payment was cancelled automatically and you have not been charged. If your banking app shows a pending amount, it will drop off. Shall we try again?",
		},
		zh: Entry{
			Title: "超时未应答，已自动撤销",
			What:  "银行没有及时回复，终端已经自动撤销（冲正）这笔付款，银行也确认了。顾客没有被扣款。",
			Steps: []string{
				"不要手工退款，没有需要退的钱。",
				"顾客还想付款的话，重新发起一笔消费。",
				"经常出现的话，检查网络连接并告诉技术支持。",
			},
			Tell: "银行没有及时回应，这笔付款已经自动取消了，没有扣您的钱。如果手机银行里显示一笔待处理的金额，之后会自动消失。我们再试一次好吗？",
		},
	},
	iso.GuidanceReversalPending: {
		en: Entry{
			Title: "No answer — cancelling",
			What:  "The bank did not answer in time. The money may be on hold on the customer's account. The terminal is sending an automatic cancellation, but the bank has not confirmed it yet.",
			Steps: []string{
				"Do NOT charge the card again for this purchase yet, and do not refund by hand.",
				"Check the status of the last transaction on the terminal and wait for the cancellation to be confirmed.",
				"If the customer has to pay now, use a different method (for example cash) and write down what happened.",
				"If it is still not confirmed later, tell your manager; the back office will reconcile it.",
			},
			Tell: "The bank didn't answer, so the terminal is cancelling this payment automatically. If you see an amount on hold, it will be released; you will not pay for it. Please don't pay a second time yet; let me check first.",
		},
		zh: Entry{
			Title: "超时未应答，正在撤销",
			What:  "银行没有及时回复，顾客账户里的钱可能被暂时冻结。终端正在自动撤销（冲正），但银行还没有确认。",
			Steps: []string{
				"这次购买先不要再刷卡扣款，也不要手工退款。",
				"在终端上查询最后一笔交易的状态，等撤销被确认。",
				"如果顾客必须马上付款，请用其他方式（比如现金），并把情况记下来。",
				"过一段时间还没确认的话，告诉店长，由后台对账处理。",
			},
			Tell: "银行没有回应，刷卡机正在自动取消这笔付款。如果您看到有一笔冻结金额，之后会自动退回，不会真的扣您的钱。请先不要重复付款，我查一下。",
		},
	},
	iso.GuidanceHostUnreachable: {
		en: Entry{
			Title: "No connection to the bank",
			What:  "The terminal could not connect to the bank. Nothing was sent, so nothing was charged.",
			Steps: []string{
				"Check the terminal's network: cable, Wi-Fi or mobile signal.",
				"Once the connection is back, it is safe to try again.",
				"Meanwhile take another payment method.",
				"If it lasts, call the help desk.",
			},
			Tell: "Our terminal can't connect right now, and you have not been charged. Could you pay another way, or wait a moment while we try again?",
		},
		zh: Entry{
			Title: "无法连接银行",
			What:  "终端连不上银行，交易根本没有发出去，所以没有扣款。",
			Steps: []string{
				"检查终端的网络：网线、Wi-Fi 或流量卡信号。",
				"网络恢复后可以放心重试。",
				"在此期间请顾客用其他方式付款。",
				"长时间连不上的话联系技术支持。",
			},
			Tell: "我们的刷卡机暂时连不上网络，没有扣您的钱。您可以换个方式付款，或者稍等一下我们再试。",
		},
	},
	iso.GuidanceHostMismatch: {
		en: Entry{
			Title: "Terminal and bank do not understand each other",
			What:  "The bank answered in a message format this terminal is not set up for. This is a set-up problem, not the network; the payment did not go through.",
			Steps: []string{
				"Do not check cables or retry: it will fail the same way.",
				"Take another payment method.",
				"Call the help desk: the terminal's message format (dialect, framing) differs from the bank's.",
			},
			Tell: "Our terminal has a set-up problem and can't take card payments right now; you have not been charged. Could you pay another way?",
		},
		zh: Entry{
			Title: "终端与银行报文格式不一致",
			What:  "银行的回复用的是终端没有配置的报文格式。这是参数设置问题，不是网络问题；这笔付款没有成功。",
			Steps: []string{
				"不用检查网线，也不要重试：重试结果一样。",
				"请顾客用其他方式付款。",
				"联系技术支持：终端的报文格式（方言、长度头）与银行不一致。",
			},
			Tell: "我们的刷卡机参数设置有问题，暂时不能刷卡，没有扣您的钱。您可以换个方式付款吗？",
		},
	},
	iso.GuidanceChipFallback: {
		en: Entry{
			Title: "Chip not read — swipe",
			What:  "The terminal could not read the card's chip and asks for the magnetic stripe to be swiped instead.",
			Steps: []string{
				"Ask the customer to take the card out, check the chip is clean, and insert it once more.",
				"If the chip still can't be read, swipe the card when the terminal asks.",
				"If the swipe fails or is declined, ask for another card; banks may refuse swiped payments.",
			},
			Tell: "The chip on your card couldn't be read, so we'll swipe it instead. You may want to ask your bank for a new card.",
		},
		zh: Entry{
			Title: "芯片读取失败，请刷磁条",
			What:  "终端读不了卡片上的芯片，提示改刷磁条。",
			Steps: []string{
				"请顾客取出卡，看看芯片是否干净，再插一次。",
				"芯片还是读不了，就按终端提示刷磁条。",
				"刷磁条也失败或被拒的话，请顾客换一张卡；银行有可能拒绝刷磁条的交易。",
			},
			Tell: "您卡上的芯片读不出来，我们改刷磁条试试。建议您找银行换一张新卡。",
		},
	},
	iso.GuidanceCardRemoved: {
		en: Entry{
			Title: "Card removed too early",
			What:  "The card was taken out before the payment finished, so the payment did not complete.",
			Steps: []string{
				"Check the status of the last transaction first; if the terminal shows a cancellation in progress, do not charge again yet.",
				"Start the sale again and ask the customer to leave the card in until the screen says to remove it.",
			},
			Tell: "The card came out before the payment finished. Let me check, then we'll try again. Please leave the card in until the screen tells you to remove it.",
		},
		zh: Entry{
			Title: "卡片拔出过早",
			What:  "付款还没完成卡就被拔出来了，这笔付款没有完成。",
			Steps: []string{
				"先查询最后一笔交易的状态；如果终端显示正在撤销，先不要重新扣款。",
				"重新发起消费，提醒顾客等屏幕提示后再拔卡。",
			},
			Tell: "卡拔得早了一点，付款没有完成。我先查一下，再重新刷一次。请等屏幕提示后再拔卡。",
		},
	},
	iso.GuidancePINTimeout: {
		en: Entry{
			Title: "PIN not entered in time",
			What:  "The customer did not enter the PIN in time, so the terminal stopped. Nothing was charged.",
			Steps: []string{
				"Start the sale again.",
				"Hand the keypad to the customer and tell them a PIN is needed.",
				"Make sure they can shield the keypad while typing.",
			},
			Tell: "The terminal timed out waiting for your PIN. Let's try again; please enter your PIN when it asks.",
		},
		zh: Entry{
			Title: "密码输入超时",
			What:  "顾客没有在规定时间内输入密码，终端停止了交易，没有扣款。",
			Steps: []string{
				"重新发起这笔消费。",
				"把密码键盘递给顾客，提醒需要输入密码。",
				"让顾客可以遮挡着键盘输入。",
			},
			Tell: "刚才等密码超时了，我们再来一次，屏幕提示时请输入密码。",
		},
	},
	iso.GuidancePrinterOut: {
		en: Entry{
			Title: "Approved — receipt not printed",
			What:  "The payment was approved, but the receipt could not be printed because the printer is out of paper or jammed.",
			Steps: []string{
				"Do not charge the customer again; the payment went through.",
				"Load a new paper roll and close the cover.",
				"Reprint the receipt from the terminal menu (reprint last).",
				"Keep spare rolls next to the till.",
			},
			Tell: "Your payment went through. I'm just changing the paper roll to print your receipt.",
		},
		zh: Entry{
			Title: "交易成功，小票未打印",
			What:  "付款已经成功，但打印机缺纸或卡纸，小票没打出来。",
			Steps: []string{
				"不要再向顾客收款，钱已经付了。",
				"装上新纸卷，合好盖子。",
				"在终端菜单里重打印最后一笔的小票。",
				"收银台旁边常备几卷打印纸。",
			},
			Tell: "您的付款已经成功了，我换一下打印纸，马上给您打小票。",
		},
	},
	iso.GuidanceVoided: {
		en: Entry{
			Title: "Cancelled",
			What:  "The payment was cancelled (voided). Nothing will be charged; any hold on the customer's account will be released.",
			Steps: []string{
				"Give the customer the cancellation receipt if one was printed.",
				"If the customer still wants to pay, start a new sale.",
			},
			Tell: "The payment has been cancelled and you won't be charged. If your bank shows a pending amount, it will drop off.",
		},
		zh: Entry{
			Title: "已撤销",
			What:  "这笔付款已经撤销，不会扣款；顾客账户上如有冻结的金额，会被释放。",
			Steps: []string{
				"如果打印了撤销小票，交给顾客。",
				"顾客还要付款的话，重新发起一笔消费。",
			},
			Tell: "这笔付款已经撤销了，不会扣您的钱。如果银行显示有一笔待处理的金额，之后会自动消失。",
		},
	},
	iso.GuidanceOfflineApproved: {
		en: Entry{
			Title: "Approved offline",
			What:  "The bank could not be reached, so the terminal approved the payment itself, within its allowed limit. It will send the payment to the bank later.",
			Steps: []string{
				"Finish the sale and give the receipt as usual.",
				"Keep the terminal switched on and connected so it can send the stored payments.",
				"If the terminal reports stored payments that will not send, tell the help desk.",
			},
			Tell: "Your payment is accepted. Here is your receipt.",
		},
		zh: Entry{
			Title: "离线批准",
			What:  "因为连不上银行，终端在允许的额度内自行批准了这笔付款，之后会再把交易上送给银行。",
			Steps: []string{
				"像平常一样完成销售，把小票给顾客。",
				"保持终端开机联网，让它把存着的交易发出去。",
				"如果终端提示存储的交易一直发不出去，联系技术支持。",
			},
			Tell: "您的付款已受理，这是小票。",
		},
	},
	iso.GuidanceNotAccepted: {
		en: Entry{
			Title: "Payment method not accepted",
			What:  "The terminal refused this card or payment method before contacting the bank: the shop does not accept it. Nothing was charged.",
			Steps: []string{
				"Tell the customer which cards and methods the shop accepts.",
				"Take another payment method.",
			},
			Tell: "Sorry, we don't accept this card or payment method here. Could you pay with another card or another way?",
		},
		zh: Entry{
			Title: "不支持此付款方式",
			What:  "终端在联系银行之前就拒绝了这张卡或这种付款方式：本店不受理。没有扣款。",
			Steps: []string{
				"告诉顾客本店接受哪些卡和付款方式。",
				"请顾客换其他方式付款。",
			},
			Tell: "不好意思，本店不支持这种付款方式。您换张卡或用其他方式可以吗？",
		},
	},
	iso.GuidanceSettled: {
		en: Entry{
			Title: "Settlement done",
			What:  "End-of-day settlement is finished: the terminal's totals match the bank's and the batch is closed.",
			Steps: []string{
				"Print the settlement report and keep it with the day's till records.",
				"Compare its totals with the totals in the till system.",
			},
			Tell: "Nothing to tell customers.",
		},
		zh: Entry{
			Title: "结算完成",
			What:  "日终结算已经完成：终端合计和银行一致，这一批交易已经结束。",
			Steps: []string{
				"打印结算单，和当天的收银记录放在一起保存。",
				"核对结算单上的合计和收银系统的合计是否一致。",
			},
			Tell: "不需要告诉顾客。",
		},
	},
	iso.GuidanceManualReconciliation: {
		en: Entry{
			Title: "Needs a manual check",
			What:  "An automatic cancellation or a stored payment could not be delivered to the bank for a long time. The terminal has given up and a person must check it.",
			Steps: []string{
				"Do not refund or charge customers by hand.",
				"Print the report of pending or failed transactions.",
				"Give it to your manager or back office to reconcile with the payment provider.",
				"If a customer asks, take their contact details and the receipt details.",
			},
			Tell: "We are checking this payment with our bank. If any money was held or taken by mistake, it will be put right, and we will contact you.",
		},
		zh: Entry{
			Title: "需人工对账",
			What:  "一笔自动撤销或存储的交易很长时间都发不到银行，终端已经放弃自动处理，需要人工核对。",
			Steps: []string{
				"不要手工给顾客退款或重新扣款。",
				"打印未完成或失败交易的报表。",
				"交给店长或后台，与收单机构对账。",
				"如果有顾客来问，记下联系方式和小票信息。",
			},
			Tell: "这笔付款我们正在和银行核对，如果有冻结或多扣的金额，会给您处理好，我们会联系您。",
		},
	},
	iso.GuidanceCheckLast: {
		en: Entry{
			Title: "Check the last transaction",
			What:  "The result of the last payment is unclear (for example the terminal restarted in the middle). It may or may not have been charged.",
			Steps: []string{
				"Do not charge again until you know.",
				"Use the terminal's last-transaction or reprint function to see its status.",
				"Approved: the customer has paid, reprint the receipt. Declined or cancelled: start a new sale.",
				"If the status cannot be found, call the help desk.",
			},
			Tell: "Let me check whether your last payment went through before we do anything else, so you aren't charged twice.",
		},
		zh: Entry{
			Title: "请先查询上一笔",
			What:  "上一笔付款的结果不确定（比如交易中途终端重启了），可能扣了款，也可能没有。",
			Steps: []string{
				"弄清楚之前不要重新扣款。",
				"用终端的“查询最后一笔”或“重打印”功能查看状态。",
				"已成功：顾客已经付过款，重打印小票即可；失败或已撤销：重新发起消费。",
				"查不到状态的话联系技术支持。",
			},
			Tell: "我先查一下您上一笔付款有没有成功，免得重复扣款。",
		},
	},
}
