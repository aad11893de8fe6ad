package rechargetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Notable demo customers, by id. Their ids are fixed so that demos, tests
// and documentation can name them.
const (
	// DemoAlexRiveraID is Alex Rivera (alex.rivera@example.com, phone
	// +15551234567, external id 7923224739991): an active "Dog Lovers
	// T-Shirt" (DemoAlexDogTeeID), a cancelled "Cat Pajamas"
	// (DemoAlexCatPajamasID) and an active "Dog Dental Chews"
	// (DemoAlexChewsID) that shares the T-Shirt's next charge.
	DemoAlexRiveraID int64 = 183940021
	// DemoAlexDogTeeID is Alex Rivera's active Dog Lovers T-Shirt, whose
	// next charge also carries DemoAlexChewsID.
	DemoAlexDogTeeID int64 = 585062092
	// DemoAlexCatPajamasID is Alex Rivera's cancelled Cat Pajamas ("Too
	// many pajamas"), to reactivate.
	DemoAlexCatPajamasID int64 = 585062093
	// DemoAlexChewsID is Alex Rivera's active Dog Dental Chews, on the same
	// charge as the T-Shirt: the demo's subscription to cancel.
	DemoAlexChewsID int64 = 585062000
	// DemoSamTaylorID and DemoSamTOrgID are two different customers, both
	// named Sam Taylor (sam.taylor@example.com and sam.t@example.org): the
	// two candidate accounts of one desk profile that lists both emails.
	DemoSamTaylorID int64 = 183940001
	DemoSamTOrgID   int64 = 183940002
	// DemoNoSubscriptionsID (Jordan Lee) has no subscription at all.
	DemoNoSubscriptionsID int64 = 183940003
	// DemoOnlyExpiredID (Priya Patel) has one subscription, expired.
	DemoOnlyExpiredID int64 = 183940004
	// DemoManySubscriptionsID (Morgan Blake) has 60 subscriptions (48
	// active, 12 cancelled), more than one page at the default limit of 50.
	DemoManySubscriptionsID int64 = 183940005
	// DemoFreeTextPhoneID (Chris Morgan) has a free-text phone number.
	DemoFreeTextPhoneID int64 = 183940006
	// DemoMixedCaseEmailID (Dana Whitfield) is stored with the email
	// "Dana.Whitfield@Example.com", to exercise case-insensitive search.
	DemoMixedCaseEmailID int64 = 183940007
	// DemoNoPhoneID (Noah Williams) has no phone and no external id.
	DemoNoPhoneID int64 = 183940010
	// DemoFailingPaymentID (Riley Brooks) has a failing payment: the
	// charge of a Vitamin D3 subscription (on its own office address)
	// failed twice with CARD_DECLINED, the last attempt yesterday, and
	// waits for its retry date; the customer is in dunning. Its other
	// address has a healthy queued charge.
	DemoFailingPaymentID int64 = 183940031
	// DemoNextShipmentID (Jamie Park) has a multi-line next shipment with
	// an address discount (WELCOME10, 10 %) and a one-time product
	// (Razor Blade Refills), a line skipped yesterday in the portal on
	// the same date (Merino Wool Socks), and a card that expires next
	// month.
	DemoNextShipmentID int64 = 183940032
)

const demoImageHost = "https://cdn.example-store.com/products/"

// demoProducts is the demo store's catalog: 13 products with https images
// and SKUs, some with several variants.
func demoProducts() []SeedProduct { return demoProductsAt(demoImageHost) }

// demoProductsAt is the demo catalog with its images under imageHost.
func demoProductsAt(imageHost string) []SeedProduct {
	demoImage := func(slug string) string { return imageHost + slug + ".png?v=1718035200" }
	v := func(id, title, sku, price string, grams int) SeedVariant {
		return SeedVariant{ExternalVariantID: id, Title: title, SKU: sku, Price: price, Grams: grams}
	}
	return []SeedProduct{
		{ExternalProductID: "7469727514801", Title: "Dog Lovers T-Shirt", Vendor: "Paws & Threads", Description: "Soft cotton tee for people who would rather be walking the dog.",
			Image: demoImage("dog-lovers-tee"), Variants: []SeedVariant{
				v("41845356495001", "Small / Heather Grey", "DOG-TEE-S", "25.00", 180),
				v("41845356495002", "Medium / Heather Grey", "DOG-TEE-M", "25.00", 190),
				v("41845356495003", "Large / Heather Grey", "DOG-TEE-L", "25.00", 200),
			}},
		{ExternalProductID: "7451895464101", Title: "Cat Pajamas", Vendor: "Whisker Wear", Description: "Flannel pajama pants with a cat print.",
			Image: demoImage("cat-pajama-pants"), Variants: []SeedVariant{
				v("41799856652401", "Small", "111-1", "49.50", 430),
				v("41799856652402", "Medium", "111-2", "49.50", 440),
				v("41799856652403", "Large", "111-3", "49.50", 454),
			}},
		{ExternalProductID: "8143925215301", Title: "Men's Wool Runner", Vendor: "Trailhead", Description: "Merino wool sneakers, machine washable.",
			Image: demoImage("mens-wool-runner"), Variants: []SeedVariant{
				v("43510687465301", "8", "WOOL100", "98.00", 700),
				v("43510687465302", "9", "WOOL101", "98.00", 720),
				v("43510687465303", "10", "WOOL102", "98.00", 740),
			}},
		{ExternalProductID: "8143925215402", Title: "Organic Coffee Beans", Vendor: "Hillside Roasters", Description: "Single-origin medium roast, 1 lb bag.",
			Image: demoImage("organic-coffee-beans"), Variants: []SeedVariant{
				v("43510687465401", "Whole Bean / 1 lb", "COF-ORG-WB", "16.99", 454),
				v("43510687465402", "Ground / 1 lb", "COF-ORG-GR", "16.99", 454),
			}},
		{ExternalProductID: "8143925215503", Title: "Green Tea Sampler", Vendor: "Leaf & Co", Description: "Twelve sachets of Japanese and Chinese green teas.",
			Image: demoImage("green-tea-sampler"), Variants: []SeedVariant{
				v("43510687465501", "12 sachets", "TEA-GRN-12", "12.50", 120),
			}},
		{ExternalProductID: "8143925215604", Title: "Vitamin D3 Gummies", Vendor: "Daylight Health", Description: "2000 IU per gummy, 60 count.",
			Image: demoImage("vitamin-d3-gummies"), Variants: []SeedVariant{
				v("43510687465601", "60 count", "VIT-D3-60", "19.00", 200),
			}},
		{ExternalProductID: "8143925215705", Title: "Dog Dental Chews", Vendor: "Paws & Threads", Description: "Daily chews that keep teeth clean.",
			Image: demoImage("dog-dental-chews"), Variants: []SeedVariant{
				v("43510687465701", "Medium dogs / 30 pack", "DOG-CHEW-M30", "22.00", 600),
				v("43510687465702", "Large dogs / 30 pack", "DOG-CHEW-L30", "26.00", 750),
			}},
		{ExternalProductID: "8143925215806", Title: "Cat Litter Refill", Vendor: "Whisker Wear", Description: "Clumping, unscented, 20 lb.",
			Image: demoImage("cat-litter-refill"), Variants: []SeedVariant{
				v("43510687465801", "20 lb", "CAT-LIT-20", "29.00", 9072),
			}},
		{ExternalProductID: "8143925215907", Title: "Bamboo Toothbrush 4-Pack", Vendor: "Greenbath", Description: "Compostable handles, charcoal bristles.",
			Image: demoImage("bamboo-toothbrush"), Variants: []SeedVariant{
				v("43510687465901", "Soft", "BAM-TB-4S", "9.99", 80),
				v("43510687465902", "Medium", "BAM-TB-4M", "9.99", 80),
			}},
		{ExternalProductID: "8143925216008", Title: "Lavender Shampoo Bar", Vendor: "Greenbath", Description: "Plastic-free shampoo bar, about 80 washes.",
			Image: demoImage("lavender-shampoo-bar"), Variants: []SeedVariant{
				v("43510687466001", "Default Title", "SHAM-BAR-LAV", "11.00", 110),
			}},
		{ExternalProductID: "8143925216109", Title: "Vanilla Protein Powder", Vendor: "Daylight Health", Description: "Whey isolate, 25 g protein per scoop.",
			Image: demoImage("vanilla-protein-powder"), Variants: []SeedVariant{
				v("43510687466101", "2 lb", "PRO-VAN-2LB", "44.00", 907),
				v("43510687466102", "5 lb", "PRO-VAN-5LB", "89.00", 2268),
			}},
		{ExternalProductID: "8143925216210", Title: "Merino Wool Socks 3-Pack", Vendor: "Trailhead", Description: "Cushioned hiking socks.",
			Image: demoImage("merino-wool-socks"), Variants: []SeedVariant{
				v("43510687466201", "M", "SOCK-WL-M", "27.00", 250),
				v("43510687466202", "L", "SOCK-WL-L", "27.00", 260),
			}},
		{ExternalProductID: "8143925216311", Title: "Razor Blade Refills", Vendor: "Greenbath", Description: "Five-blade cartridges, pack of 8.",
			Image: demoImage("razor-blade-refills"), Variants: []SeedVariant{
				v("43510687466301", "8 cartridges", "RAZ-BLD-8", "14.00", 60),
			}},
	}
}

// Demo variant ids, for readable seeds.
const (
	vDogTeeL     = "41845356495003"
	vDogTeeM     = "41845356495002"
	vCatPJL      = "41799856652403"
	vCatPJM      = "41799856652402"
	vWool9       = "43510687465302"
	vCoffeeWB    = "43510687465401"
	vCoffeeGR    = "43510687465402"
	vTea         = "43510687465501"
	vVitD3       = "43510687465601"
	vChewsM      = "43510687465701"
	vChewsL      = "43510687465702"
	vLitter      = "43510687465801"
	vToothbrushS = "43510687465901"
	vShampoo     = "43510687466001"
	vProtein2    = "43510687466101"
	vProtein5    = "43510687466102"
	vSocksM      = "43510687466201"
	vSocksL      = "43510687466202"
	vRazor       = "43510687466301"
)

func active(variant string, interval int, unit string, past int) SeedSubscription {
	return SeedSubscription{VariantID: variant, Interval: interval, Unit: unit, PastCharges: past}
}

func cancelled(variant string, interval int, unit string, past int, reason string) SeedSubscription {
	return SeedSubscription{VariantID: variant, Interval: interval, Unit: unit, PastCharges: past, Status: "cancelled", CancellationReason: reason}
}

func expired(variant string, interval int, unit string, past int) SeedSubscription {
	return SeedSubscription{VariantID: variant, Interval: interval, Unit: unit, PastCharges: past, Status: "expired"}
}

// DemoSeed returns the demo store: a Shopify store with 13 products (https
// images on cdn.example-store.com, SKUs) and 30 customers (ids 183940001 to
// 183940030) with 1 to 4 subscriptions each, active, cancelled and expired,
// on intervals of 7, 14 and 30 days, 1 and 2 weeks, and 1, 2 and 3 months,
// with past (success) and queued charges whose line items carry the product
// images. Dates are relative to the simulator's clock at Load time (see
// Seed), so next charges are always in the near future.
//
// Customers worth knowing (see the Demo*ID constants):
//   - 183940021 Alex Rivera, alex.rivera@example.com, +15551234567, external
//     id 7923224739991: an active "Dog Lovers T-Shirt" (Large / Heather
//     Grey, DOG-TEE-L, 25.00 USD, every 1 month, next charge in 5 days) and a
//     cancelled "Cat Pajamas" (Large, 111-3, 49.50 USD, every 30 days,
//     cancelled 20 days ago: "Too many pajamas", "Will come back in winter")
//     and an active "Dog Dental Chews" (Medium dogs / 30 pack, 22.00 USD,
//     every 1 month, added two days ago) on the T-Shirt's next charge;
//   - 183940001 and 183940002, both Sam Taylor, sam.taylor@example.com and
//     sam.t@example.org: two candidate accounts for one desk profile;
//   - 183940003 Jordan Lee: no subscriptions;
//   - 183940004 Priya Patel: only an expired subscription;
//   - 183940005 Morgan Blake: 60 subscriptions (a second page at limit 50);
//   - 183940006 Chris Morgan: a free-text phone;
//   - 183940007 Dana Whitfield: a mixed-case stored email;
//   - 183940010 Noah Williams: no phone and no external id;
//   - 183940020 Harper Wilson: one subscription, cancelled;
//   - 183940028 Daniel Harris: two subscriptions, both cancelled.
func DemoSeed() Seed { return demoSeed(demoImageHost) }

// demoSeed is the demo store with its product images under imageHost.
func demoSeed(imageHost string) Seed {
	c := func(n int64, first, last, email, phone, ext string, subs ...SeedSubscription) SeedCustomer {
		return SeedCustomer{ID: 183940000 + n, FirstName: first, LastName: last, Email: email, Phone: phone, ExternalID: ext, Subscriptions: subs}
	}
	ext := func(n int) string { return fmt.Sprintf("79232247400%02d", n) }

	many := make([]SeedSubscription, 0, 60)
	products := demoProducts()
	intervals := []struct {
		n    int
		unit string
	}{{1, "month"}, {2, "week"}, {30, "day"}, {3, "month"}, {14, "day"}, {1, "week"}, {2, "month"}, {7, "day"}}
	for i := range 60 {
		p := products[i%len(products)]
		iv := intervals[i%len(intervals)]
		ss := SeedSubscription{
			VariantID:        p.Variants[(i/len(products))%len(p.Variants)].ExternalVariantID,
			Interval:         iv.n,
			Unit:             iv.unit,
			PastCharges:      1 + i%3,
			NextChargeInDays: 1 + i%28,
		}
		if i%5 == 4 {
			ss.Status = "cancelled"
			ss.CancellationReason = []string{"Too expensive", "Have too much", "Switching products"}[i%3]
		}
		many = append(many, ss)
	}

	alex := c(21, "Alex", "Rivera", "alex.rivera@example.com", "+15551234567", "7923224739991",
		SeedSubscription{
			VariantID: vDogTeeL, ProductTitle: "Dog Lovers T-Shirt", VariantTitle: "Large / Heather Grey",
			SKU: "DOG-TEE-L", Price: "25.00", Currency: "USD",
			Interval: 1, Unit: "month", PastCharges: 3, AgeDays: 87, NextChargeInDays: 5,
		},
		SeedSubscription{
			VariantID: vCatPJL, ProductTitle: "Cat Pajamas", VariantTitle: "Large",
			SKU: "111-3", Price: "49.50", Currency: "USD",
			Interval: 30, Unit: "day", PastCharges: 2, AgeDays: 70,
			Status: "cancelled", CancelledDaysAgo: 20,
			CancellationReason: "Too many pajamas", CancellationComments: "Will come back in winter",
		},
		// Added to his next order two days ago, so it ships with the Dog
		// Lovers T-Shirt: one charge, two subscriptions. Skipping the
		// T-Shirt's next charge leaves this one billed on that date, and
		// it is the demo's active subscription to cancel. Its id is below
		// the demo's first so that no other demo id moves.
		SeedSubscription{
			ID: DemoAlexChewsID, VariantID: vChewsM,
			Interval: 1, Unit: "month", PastCharges: 0, AgeDays: 2, NextChargeInDays: 5,
		},
	)
	alex.Addresses = []SeedAddress{{Address1: "1456 Sunset Boulevard", Address2: "Unit 3", City: "Los Angeles", Province: "California", Zip: "90026", Phone: "+15551234567"}}

	lucas := c(19, "Lucas", "Silva", "lucas.silva@example.com", "+15550142219", ext(19),
		active(vCoffeeGR, 2, "week", 5),
		SeedSubscription{VariantID: vSocksL, Interval: 2, Unit: "month", PastCharges: 2, Address: 1})
	lucas.Addresses = []SeedAddress{
		{Address1: "77 Beacon Street", City: "Boston", Province: "Massachusetts", Zip: "02108"},
		{Address1: "1200 Market Street", Address2: "Floor 5", City: "Philadelphia", Province: "Pennsylvania", Zip: "19107", Company: "Silva Design LLC"},
	}

	evelyn := c(27, "Evelyn", "White", "evelyn.white@example.com", "+15550142227", ext(27),
		SeedSubscription{VariantID: vSocksM, Interval: 2, Unit: "month", PastCharges: 2,
			Properties: []SeedProperty{{Name: "Gift note", Value: "Happy hiking, Dad!"}}})

	henry := c(24, "Henry", "Anderson", "henry.anderson@example.org", "+15550142224", ext(24),
		active(vToothbrushS, 3, "month", 2), active(vRazor, 1, "month", 4),
		active(vShampoo, 1, "month", 3), active(vVitD3, 1, "month", 1))

	amelia := c(25, "Amelia", "Thomas", "amelia.thomas@example.com", "+15550142225", ext(25),
		SeedSubscription{VariantID: vCoffeeWB, Interval: 7, Unit: "day", PastCharges: 8, Quantity: 2})

	grace := c(29, "Grace", "Lewis", "grace.lewis@example.org", "+15550142229", ext(29), active(vLitter, 1, "month", 5))
	grace.TaxExempt = true

	riley := c(31, "Riley", "Brooks", "riley.brooks@example.com", "+15550142231", ext(31),
		SeedSubscription{VariantID: vCoffeeWB, Interval: 1, Unit: "month", PastCharges: 4, NextChargeInDays: 9},
		SeedSubscription{VariantID: vVitD3, Interval: 1, Unit: "month", PastCharges: 3, Address: 1,
			FailedAttempts: 2, ErrorType: "CARD_DECLINED"})
	riley.Addresses = []SeedAddress{
		{Address1: "2150 Blake Street", City: "Denver", Province: "Colorado", Zip: "80205"},
		{Address1: "1801 California Street", Address2: "Suite 400", City: "Denver", Province: "Colorado", Zip: "80202", Company: "Brooks & Co"},
	}
	riley.Card = &SeedCard{Brand: "mastercard", Last4: "4444", ExpiresInMonths: 14}

	jamie := c(32, "Jamie", "Park", "jamie.park@example.com", "+15550142232", ext(32),
		SeedSubscription{VariantID: vCoffeeGR, Interval: 1, Unit: "month", PastCharges: 3, NextChargeInDays: 6},
		SeedSubscription{VariantID: vTea, Interval: 1, Unit: "month", PastCharges: 2, NextChargeInDays: 6, Quantity: 2},
		SeedSubscription{VariantID: vSocksM, Interval: 2, Unit: "month", PastCharges: 1, NextChargeInDays: 6, SkipNext: true})
	jamie.Addresses = []SeedAddress{{Address1: "640 Pine Street", Address2: "Apt 12", City: "Seattle", Province: "Washington", Zip: "98101",
		Discount: &SeedDiscount{Code: "WELCOME10", Value: "10", ValueType: "percentage"},
		Onetimes: []SeedOnetime{{VariantID: vRazor}}}}
	jamie.Card = &SeedCard{Brand: "visa", Last4: "4242", ExpiresInMonths: 1}

	customers := []SeedCustomer{
		c(1, "Sam", "Taylor", "sam.taylor@example.com", "+15550142201", ext(1),
			active(vCoffeeWB, 2, "week", 6), cancelled(vTea, 1, "month", 2, "Switching to a different product")),
		c(2, "Sam", "Taylor", "sam.t@example.org", "+15550142202", ext(2), active(vProtein2, 1, "month", 2)),
		c(3, "Jordan", "Lee", "jordan.lee@example.com", "+15550142203", ext(3)),
		c(4, "Priya", "Patel", "priya.patel@example.org", "+15550142204", ext(4), expired(vVitD3, 1, "month", 3)),
		c(5, "Morgan", "Blake", "morgan.blake@example.com", "+15550142205", ext(5), many...),
		c(6, "Chris", "Morgan", "chris.morgan@example.com", "call after 5pm - 555 0199 (ask for Chris)", ext(6), active(vChewsM, 30, "day", 4)),
		c(7, "Dana", "Whitfield", "Dana.Whitfield@Example.com", "+15550142207", ext(7),
			active(vToothbrushS, 3, "month", 2), cancelled(vShampoo, 1, "month", 3, "Product did not work for me")),
		c(8, "Luis", "Hernández", "luis.hernandez@example.com", "+525512345678", ext(8), active(vCoffeeGR, 7, "day", 10)),
		c(9, "Emma", "Johansson", "emma.j@example.org", "+46701234567", ext(9), active(vSocksM, 2, "month", 2), active(vRazor, 1, "month", 3)),
		c(10, "Noah", "Williams", "noah.williams@example.com", "", "", active(vLitter, 1, "month", 2)),
		c(11, "Olivia", "Brown", "olivia.brown@example.com", "+15550142211", ext(11),
			active(vCoffeeWB, 14, "day", 5), active(vTea, 1, "month", 3),
			cancelled(vVitD3, 1, "month", 2, "Too expensive"), expired(vProtein5, 1, "month", 2)),
		c(12, "Liam", "O'Connor", "liam.oconnor@example.com", "+353861234567", ext(12), active(vWool9, 3, "month", 2)),
		c(13, "Ava", "Chen", "ava.chen@example.org", "+15550142213", ext(13),
			active(vCatPJM, 30, "day", 3), cancelled(vDogTeeM, 1, "month", 1, "Wrong size")),
		c(14, "Mia", "Rossi", "mia.rossi@example.com", "+393331234567", ext(14), active(vShampoo, 1, "month", 2), active(vToothbrushS, 3, "month", 1)),
		c(15, "Ethan", "Kim", "ethan.kim@example.com", "+15550142215", ext(15), active(vChewsL, 2, "week", 6)),
		c(16, "Isabella", "Garcia", "isabella.garcia@example.org", "+15550142216", ext(16),
			active(vVitD3, 1, "month", 4), cancelled(vCoffeeGR, 2, "week", 3, "Moving abroad")),
		c(17, "Mason", "Davis", "mason.davis@example.com", "+15550142217", ext(17), active(vRazor, 1, "month", 2), expired(vSocksL, 2, "month", 2)),
		c(18, "Sophia", "Martin", "sophia.martin@example.com", "+15550142218", ext(18),
			active(vProtein5, 1, "month", 3), active(vTea, 2, "week", 4), active(vLitter, 1, "month", 2)),
		lucas,
		c(20, "Harper", "Wilson", "harper.wilson@example.com", "+15550142220", ext(20), cancelled(vTea, 1, "month", 1, "Have too much")),
		alex,
		c(22, "Benjamin", "Moore", "ben.moore@example.com", "+15550142222", ext(22), active(vWool9, 1, "month", 1), active(vDogTeeM, 1, "month", 2)),
		c(23, "Charlotte", "Taylor", "charlotte.taylor@example.com", "+15550142223", ext(23), active(vCatPJM, 14, "day", 3)),
		henry,
		amelia,
		c(26, "Jack", "Jackson", "jack.jackson@example.org", "+15550142226", ext(26), expired(vProtein2, 1, "month", 3), active(vProtein2, 1, "month", 1)),
		evelyn,
		c(28, "Daniel", "Harris", "daniel.harris@example.com", "+15550142228", ext(28),
			cancelled(vDogTeeL, 1, "month", 2, "Too expensive"), cancelled(vChewsM, 2, "week", 3, "Dog did not like them")),
		grace,
		c(30, "Michael", "Clark", "michael.clark@example.com", "+15550142230", ext(30), active(vTea, 1, "week", 6)),
		riley, jamie,
	}
	return Seed{Products: demoProductsAt(imageHost), Customers: customers, RetentionStrategies: demoRetentionStrategies()}
}

// demoRetentionStrategies are the demo store's cancellation reasons, with
// the save offers a store typically attaches to them.
func demoRetentionStrategies() []RetentionStrategy {
	return []RetentionStrategy{
		{Reason: "Too expensive", IncentiveType: "discount", DiscountCode: "STAY15", PreventionText: "Stay and take 15% off your next order."},
		{Reason: "I have too much product", IncentiveType: "delay_subscription", PreventionText: "Push your next delivery back instead."},
		{Reason: "I want a different product", IncentiveType: "swap_product", PreventionText: "Swap to another product at any time."},
		{Reason: "Going on vacation", IncentiveType: "skip_charge", PreventionText: "Skip your next delivery instead."},
		{Reason: "The product did not work for me"},
		{Reason: "Moving abroad"},
		{Reason: "Other"},
	}
}

var (
	genFirst = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
		"Aisha", "Wei", "Fatima", "Hiroshi", "Olga", "Mateo", "Chloe", "Arjun", "Zoe", "Kwame",
		"Ingrid", "Diego", "Amara", "Yuki", "Nina", "Omar", "Leah", "Ravi", "Elena", "Tomas",
		"Zoë", "José", "Renée", "Søren", "Björn", "François", "Chloé", "Agnès", "Łukasz", "Nuño"}
	genLast = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Nakamura", "Okafor", "Novak", "Singh", "Muller", "Rossi", "Kowalski", "Haddad", "Larsen", "Costa",
		"Müller", "Núñez", "García", "Ødegård", "Dvořák", "O'Brien", "López-Díaz", "Nguyễn", "Çelik", "Ångström"}
	genReasons   = []string{"Too expensive", "Have too much", "Switching products", "Moving abroad", "Product did not work for me", "Other"}
	genIntervals = []struct {
		n    int
		unit string
	}{{1, "month"}, {1, "month"}, {2, "month"}, {3, "month"}, {1, "week"}, {2, "week"}, {7, "day"}, {14, "day"}, {30, "day"}}
	genErrors = []string{"CARD_DECLINED", "CARD_DECLINED", "INSUFFICIENT_FUNDS", "CARD_EXPIRED", "CUSTOMER_NEEDS_TO_UPDATE_CARD", "PROCESSING_ERROR"}
	genCards  = []SeedCard{{Brand: "visa"}, {Brand: "visa"}, {Brand: "mastercard"}, {Brand: "amex"}, {Brand: "discover"}, {PaymentType: "PAYPAL"}}
)

// genPhone writes a North American number the way customers type them:
// E.164, with punctuation, without the country code, or with an extension.
func genPhone(r *rand.Rand) string {
	area, ex, line := 200+r.IntN(800), 200+r.IntN(800), r.IntN(10000)
	switch r.IntN(6) {
	case 0:
		return fmt.Sprintf("+1%03d%03d%04d", area, ex, line)
	case 1:
		return fmt.Sprintf("+1 (%03d) %03d-%04d", area, ex, line)
	case 2:
		return fmt.Sprintf("%03d-%03d-%04d", area, ex, line)
	case 3:
		return fmt.Sprintf("(%03d) %03d %04d", area, ex, line)
	case 4:
		return fmt.Sprintf("%03d.%03d.%04d", area, ex, line)
	default:
		return fmt.Sprintf("1-%03d-%03d-%04d", area, ex, line)
	}
}

// genAddress is a generated street address with a zip of its own and,
// sometimes, a phone of its own (the customer's otherwise).
func genAddress(r *rand.Rand) SeedAddress {
	st := defaultStreets[r.IntN(len(defaultStreets))]
	a := SeedAddress{
		Address1: fmt.Sprintf("%d %s", 1+r.IntN(9999), strings.SplitN(st.Address1, " ", 2)[1]),
		Address2: st.Address2, City: st.City, Province: st.Province,
		Zip: fmt.Sprintf("%05d", 1001+r.IntN(98000)),
	}
	if r.IntN(4) == 0 {
		a.Phone = genPhone(r)
	}
	return a
}

// GenerateSeed returns that many realistic customers for load tests and
// the mirror, the same for the same randSeed. Each has a name (some with
// accents: "Zoë", "José", "Núñez"), a phone in one of the formats customers
// type (E.164, "+1 (555) 123-4567", "555-123-4567", ...; 5% free text, 5%
// none), one or two addresses with their own zip (a quarter with a phone
// of their own), a payment method (Visa, Mastercard, Amex, Discover or
// PayPal; some expiring soon or expired), and 1 to 5 subscriptions over the
// demo catalog (about 75% active, 20% cancelled, 5% expired) with 0 to 3
// past (success) charges each; of the active ones, about 5% have a failed
// next charge (an error type such as CARD_DECLINED) and 5% a skipped one.
// Emails are unique (first.last.N@example.net, a domain the demo seed does
// not use; names folded to ASCII), so GenerateSeed and DemoSeed can be
// loaded together. Ids are assigned at Load.
func GenerateSeed(customers int, randSeed int64) Seed {
	r := rand.New(rand.NewPCG(uint64(randSeed), 0x9e3779b97f4a7c15))
	products := demoProducts()
	out := make([]SeedCustomer, 0, max(customers, 0))
	for i := range max(customers, 0) {
		first := genFirst[r.IntN(len(genFirst))]
		last := genLast[r.IntN(len(genLast))]
		sc := SeedCustomer{
			FirstName:  first,
			LastName:   last,
			Email:      fmt.Sprintf("%s.%s.%d@example.net", emailPart(first), emailPart(last), i+1),
			ExternalID: fmt.Sprint(8100000000000 + int64(i)*7919),
		}
		switch p := r.IntN(100); {
		case p < 90:
			sc.Phone = genPhone(r)
		case p < 95:
			sc.Phone = fmt.Sprintf("mobile %03d %04d, evenings", r.IntN(1000), r.IntN(10000))
		}
		sc.Addresses = []SeedAddress{genAddress(r)}
		if r.IntN(5) == 0 {
			sc.Addresses = append(sc.Addresses, genAddress(r))
		}
		card := genCards[r.IntN(len(genCards))]
		card.ExpiresInMonths = r.IntN(40) - 4
		sc.Card = &card
		nsubs := 1 + r.IntN(5)
		for range nsubs {
			p := products[r.IntN(len(products))]
			iv := genIntervals[r.IntN(len(genIntervals))]
			ss := SeedSubscription{
				Address:     r.IntN(len(sc.Addresses)),
				VariantID:   p.Variants[r.IntN(len(p.Variants))].ExternalVariantID,
				Interval:    iv.n,
				Unit:        iv.unit,
				PastCharges: r.IntN(4),
			}
			if r.IntN(10) == 0 {
				ss.Quantity = 2
			}
			switch s := r.IntN(100); {
			case s < 75:
				ss.NextChargeInDays = 1 + r.IntN(30)
				switch r.IntN(20) {
				case 0:
					ss.FailedAttempts = 1 + r.IntN(3)
					ss.ErrorType = genErrors[r.IntN(len(genErrors))]
				case 1:
					ss.SkipNext = true
				}
			case s < 95:
				ss.Status = "cancelled"
				ss.CancellationReason = genReasons[r.IntN(len(genReasons))]
			default:
				ss.Status = "expired"
				ss.PastCharges = max(ss.PastCharges, 1)
			}
			sc.Subscriptions = append(sc.Subscriptions, ss)
		}
		out = append(out, sc)
	}
	return Seed{Products: products, Customers: out}
}

// emailPart folds a name to the lowercase ASCII letters of an email's
// local part: "Zoë" -> "zoe", "O'Brien" -> "obrien".
func emailPart(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if f, ok := asciiFold[r]; ok {
			b.WriteString(f)
		} else if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var asciiFold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ä': "a", 'å': "a", 'ç': "c", 'č': "c", 'è': "e", 'é': "e", 'ë': "e",
	'ě': "e", 'ễ': "e", 'í': "i", 'ł': "l", 'ñ': "n", 'ó': "o", 'ö': "o", 'ø': "o", 'ř': "r", 'ú': "u",
	'ü': "u", 'ý': "y", 'ð': "d", 'æ': "ae", 'ß': "ss", 'ş': "s",
}
