using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using PaliGemma2.DocPipeline.Pacs.WriteBack;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// The hospital PACS path on real processes: dcmtk <c>storescu</c> sends radiographs to the test Orthanc,
/// our Worker follows Orthanc's /changes feed, runs the demo report checkpoint and sends a draft report SR
/// back through Orthanc's C-STORE to a dcmtk <c>storescp</c>; STOW-RS goes to our Api process.
/// </summary>
public sealed partial class PacsTests : IAsyncLifetime
{
    private const string Key = "pacs-test-key";
    private Dictionary<string, string> _env = null!;
    private string _root = null!;
    private string _postgres = null!;

    // Each test sends radiographs with its own Body Part Examined and filters on it, so instances other
    // tests left in the shared Orthanc are not ingested here.
    private readonly string _bodyPart = "T" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("pacs");
        (_env, _, _postgres) = await ServiceProcess.DistributedEnvironmentAsync("pacs", _root);
        _env["Preparation__DefaultResolution"] = "224";
        _env["Api__Keys__0"] = Key;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    private static Uri Orthanc => TestServices.Orthanc;

    private static string OrthancDicomPort => Environment.GetEnvironmentVariable("DOCPIPE_TEST_ORTHANC_DICOM_PORT")
        ?? throw new InvalidOperationException("DOCPIPE_TEST_ORTHANC_DICOM_PORT is not set: run the tests with scripts/test.sh.");

    private Dictionary<string, string> IntakeEnv() => new(_env)
    {
        ["Pacs__Intake__Enabled"] = "true",
        ["Pacs__Intake__OrthancUrl"] = Orthanc.ToString(),
        ["Pacs__Intake__Modalities__0"] = "CR",
        ["Pacs__Intake__Modalities__1"] = "DX",
        ["Pacs__Intake__BodyParts__0"] = _bodyPart,
        ["Pacs__Intake__PollInterval"] = "00:00:00.250",
    };

    [Fact]
    public async Task A_radiograph_sent_to_orthanc_comes_back_to_the_pacs_as_an_unverified_draft_report_sr()
    {
        // The hospital PACS: a dcmtk storescp, registered in Orthanc as a modality at run time.
        var received = Directory.CreateDirectory(Path.Combine(_root, "pacs-received")).FullName;
        var scpPort = ServiceProcess.FreePort();
        using var storescp = StartTool("storescp", "-aet", "HOSPITALPACS", "-od", received, scpPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var modality = "pacs-" + Guid.NewGuid().ToString("N")[..8];
        using (var orthanc = OrthancClient())
        {
            using var body = new StringContent(JsonSerializer.Serialize(new { AET = "HOSPITALPACS", Host = "127.0.0.1", Port = scpPort }), Encoding.UTF8, "application/json");
            (await orthanc.PutAsync($"modalities/{modality}", body)).EnsureSuccessStatusCode();
        }

        var env = IntakeEnv();
        env["Inference__Tasks__report"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "report");
        env["Pacs__WriteBack__Enabled"] = "true";
        env["Pacs__WriteBack__SendInvalidReports"] = "true";   // the demo checkpoint writes noise
        env["Pacs__WriteBack__Mode"] = "OrthancModality";
        env["Pacs__WriteBack__OrthancUrl"] = Orthanc.ToString();
        env["Pacs__WriteBack__Modality"] = modality;
        env["Pacs__WriteBack__DeleteFromOrthancAfterSend"] = "true";
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);
        await using var inference = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), env);

        var dx = await MakeDxAsync("dx.dcm");
        var (studyUid, sopUid) = await UidsAsync(dx);
        await StoreScuAsync(dx);

        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid = '{sopUid}' and source = 'pacs' and task = 'auto'") == 1,
            TimeSpan.FromSeconds(90)), "the instance was not ingested:\n" + worker.Output);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select count(*) from report_deliveries where status = 'sent'") == 1,
            TimeSpan.FromSeconds(240)), "no SR was sent:\n" + worker.Output + "\n--- storescp:\n" + storescp.Output);

        Assert.Equal(studyUid, await ScalarAsync<string>(
            $"select metadata::jsonb ->> 'studyInstanceUid' from documents where sop_instance_uid = '{sopUid}'"));
        // One naming for PACS documents, whichever way they came: the SOP Instance UID (as STOW-RS does).
        Assert.Equal(sopUid + ".dcm", await ScalarAsync<string>($"select file_name from documents where sop_instance_uid = '{sopUid}'"));
        // ... and Orthanc's id of the instance kept in the metadata, next to what preparation read from the file.
        Assert.Equal(await OrthancIdAsync(sopUid), await ScalarAsync<string>(
            $"select metadata::jsonb ->> 'orthancInstanceId' from documents where sop_instance_uid = '{sopUid}'"));
        var srUid = await ScalarAsync<string>("select sr_sop_instance_uid from report_deliveries");
        Assert.Equal($"orthanc-modality:{modality}", await ScalarAsync<string>("select destination from report_deliveries"));

        string? srFile = null;
        Assert.True(await TestServices.EventuallyAsync(() =>
        {
            srFile = Directory.EnumerateFiles(received).FirstOrDefault();
            return Task.FromResult(srFile is not null);
        }, TimeSpan.FromSeconds(30)), "storescp received nothing:\n" + storescp.Output);

        Assert.Equal(1, await ScalarAsync<long>("select count(*) from results where task = 'report' and checkpoint = 'demo-toy-paligemma2-report'"));
        var raw = await ScalarAsync<string>("select raw_text from results");
        var payload = await ScalarAsync<string>("select payload from results");
        var findings = ReportText.From(raw!, payload).Findings;

        var dump = await RunToolAsync("dsrdump", "+Pl", srFile!);
        Assert.Contains("Basic Text SR", dump, StringComparison.Ordinal);
        Assert.Contains("UNVERIFIED", dump, StringComparison.Ordinal);
        Assert.Contains("demo-toy-paligemma2-report", dump, StringComparison.Ordinal);
        Assert.Contains("TEXT:(,,\"Finding\")=", dump, StringComparison.Ordinal);
        Assert.Contains("TEXT:(,,\"Impression\")=", dump, StringComparison.Ordinal);
        var plain = PlainRun().Matches(findings).Select(m => m.Value.Trim()).Where(s => s.Length >= 3).OrderByDescending(s => s.Length).FirstOrDefault();
        if (plain is not null)
        {
            Assert.Contains(plain, dump, StringComparison.Ordinal);
        }

        var tags = await RunToolAsync("dcmdump", "-Un", "+P", "0020,000d", "+P", "0008,0018", "+P", "0040,a493", "+P", "0008,1155", "+P", "0018,1020", srFile!);
        Assert.Contains("(0018,1020) LO [0.1.0-demo]", tags, StringComparison.Ordinal);
        Assert.Contains($"(0020,000d) UI [{studyUid}]", tags, StringComparison.Ordinal);
        Assert.Contains($"(0008,0018) UI [{srUid}]", tags, StringComparison.Ordinal);
        Assert.Contains($"(0008,1155) UI [{sopUid}]", tags, StringComparison.Ordinal);

        // DeleteFromOrthancAfterSend: the PACS has the SR, the DocPipeline-facing Orthanc does not keep it.
        Assert.Equal("[]", await FindInOrthancAsync(srUid!));

        // Nothing identifying in our logs: the synthetic patient's name and ID never appear.
        Assert.DoesNotContain("CompressedSamples", worker.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("4MR1", worker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Five_reports_with_the_default_modality_filter_leave_no_failed_sr_documents_and_go_back_to_the_sending_ae()
    {
        var received = Directory.CreateDirectory(Path.Combine(_root, "pacs-received")).FullName;
        var scpPort = ServiceProcess.FreePort();
        // The PACS pushes as the AE title it listens on (unique here: modalities stay registered in the shared Orthanc).
        var aet = "PACS" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        using var storescp = StartTool("storescp", "-aet", aet, "-od", received, scpPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var modality = "pacs-" + Guid.NewGuid().ToString("N")[..8];
        using (var orthanc = OrthancClient())
        {
            using var body = new StringContent(JsonSerializer.Serialize(new { AET = aet, Host = "127.0.0.1", Port = scpPort }), Encoding.UTF8, "application/json");
            (await orthanc.PutAsync($"modalities/{modality}", body)).EnsureSuccessStatusCode();
        }

        // The documented defaults: no modality or body part filter configured. StartFrom = Now only keeps
        // what other tests left in this shared Orthanc out; the SRs stay in Orthanc (no deletion), so the
        // feed sees every one of them come back through /changes.
        var env = new Dictionary<string, string>(_env)
        {
            ["Pacs__Intake__Enabled"] = "true",
            ["Pacs__Intake__OrthancUrl"] = Orthanc.ToString(),
            ["Pacs__Intake__PollInterval"] = "00:00:00.250",
            ["Pacs__Intake__StartFrom"] = "Now",
            ["Inference__Tasks__report"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "report"),
            ["Pacs__WriteBack__Enabled"] = "true",
            ["Pacs__WriteBack__SendInvalidReports"] = "true",
            ["Pacs__WriteBack__OrthancUrl"] = Orthanc.ToString(),
            // The default destination would fail: every SR reaching storescp went back to the AE that sent the image.
            ["Pacs__WriteBack__Modality"] = "no-such-modality",
            ["Pacs__WriteBack__RouteToCallingAe"] = "true",
        };
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);
        await using var inference = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), env);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select count(*) from intake_cursors") == 1, TimeSpan.FromSeconds(90)), "the feed did not start:\n" + worker.Output);

        var sops = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var dx = await MakeDxAsync($"dx{i}.dcm");
            sops.Add((await UidsAsync(dx)).Sop);
            await StoreScuAsync(dx, aet);
        }

        var inList = string.Join(", ", sops.Select(s => $"'{s}'"));
        Assert.True(await TestServices.EventuallyAsync(async () => await ScalarAsync<long>(
            "select count(*) from report_deliveries d join results r on r.id = d.result_id join jobs j on j.id = r.job_id " +
            $"join documents doc on doc.id = j.document_id where d.status = 'sent' and doc.sop_instance_uid in ({inList})") == 5,
            TimeSpan.FromSeconds(400)), "not every report was sent:\n" + worker.Output);
        Assert.True(await TestServices.EventuallyAsync(() => Task.FromResult(Directory.EnumerateFiles(received).Count() == 5),
            TimeSpan.FromSeconds(30)), "storescp did not receive 5 SRs:\n" + storescp.Output);

        // Let the feed pass every change Orthanc has logged, the 5 SR uploads included.
        long last;
        using (var orthanc = OrthancClient())
        {
            using var changes = JsonDocument.Parse(await orthanc.GetStringAsync("changes?last"));
            last = changes.RootElement.GetProperty("Last").GetInt64();
        }

        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select position from intake_cursors") >= last, TimeSpan.FromSeconds(60)), worker.Output);

        Assert.Equal(0, await ScalarAsync<long>("select count(*) from documents where status = 'failed'"));
        Assert.Equal([$"orthanc-modality:{modality}"], await ColumnAsync("select distinct destination from report_deliveries"));
        Assert.Equal(5, await ScalarAsync<long>("select count(*) from documents"));
        Assert.Equal(0, await ScalarAsync<long>(
            "select count(*) from documents doc join report_deliveries d on d.sr_sop_instance_uid = doc.sop_instance_uid"));
        foreach (var sr in await ColumnAsync("select sr_sop_instance_uid from report_deliveries"))
        {
            Assert.NotEqual("[]", await FindInOrthancAsync(sr));
        }

        // Recognised as ours before the modality filter is even asked.
        Assert.True(Regex.Count(worker.Output, "skipped: a draft report SR DocPipeline wrote") >= 5, worker.Output);
    }

    [Fact]
    public async Task The_draft_report_can_go_back_by_dicomweb_stow_instead()
    {
        var env = IntakeEnv();
        env["Inference__Tasks__report"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "report");
        env["Pacs__WriteBack__Enabled"] = "true";
        env["Pacs__WriteBack__SendInvalidReports"] = "true";   // the demo checkpoint writes noise
        env["Pacs__WriteBack__Mode"] = "DicomWeb";
        env["Pacs__WriteBack__StowUrl"] = new Uri(Orthanc, "dicom-web/studies").ToString();
        env["Pacs__WriteBack__Destination"] = "orthanc-dicomweb";
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);
        await using var inference = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), env);

        var dx = await MakeDxAsync("dx.dcm");
        var (studyUid, _) = await UidsAsync(dx);
        await StoreScuAsync(dx);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select count(*) from report_deliveries where status = 'sent' and destination = 'orthanc-dicomweb'") == 1,
            TimeSpan.FromSeconds(240)), "no SR was sent:\n" + worker.Output);

        // The SR is in the source study on the receiving DICOMweb server.
        var srUid = await ScalarAsync<string>("select sr_sop_instance_uid from report_deliveries");
        using var orthanc = OrthancClient();
        using var query = new StringContent(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["Level"] = "Instance", ["Expand"] = true, ["Query"] = new Dictionary<string, string> { ["SOPInstanceUID"] = srUid! },
        }), Encoding.UTF8, "application/json");
        var found = await (await orthanc.PostAsync("tools/find", query)).Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(found);
        var instance = Assert.Single(json.RootElement.EnumerateArray());
        var id = instance.GetProperty("ID").GetString();
        var tags = await orthanc.GetStringAsync($"instances/{id}/simplified-tags");
        Assert.Contains(studyUid, tags, StringComparison.Ordinal);
        Assert.Contains("UNVERIFIED", tags, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_report_lacking_the_sections_its_checkpoint_declares_is_stored_invalid_with_the_reason_and_not_sent()
    {
        // The demo report checkpoint, its checkpoint.json declaring the structure every report must have.
        var checkpoint = Directory.CreateDirectory(Path.Combine(_root, "report-with-sections")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(TestServices.RepoRoot, "models", "demo", "report")))
        {
            File.Copy(file, Path.Combine(checkpoint, Path.GetFileName(file)));
        }

        var declaration = Path.Combine(checkpoint, "checkpoint.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(declaration))!.AsObject();
        json["report_sections"] = new System.Text.Json.Nodes.JsonArray("FINDINGS", "IMPRESSION");
        await File.WriteAllTextAsync(declaration, json.ToJsonString());

        var env = IntakeEnv();
        env["Inference__Tasks__report"] = checkpoint;
        env["Pacs__WriteBack__Enabled"] = "true";   // SendInvalidReports left at its default (off)
        env["Pacs__WriteBack__OrthancUrl"] = Orthanc.ToString();
        env["Pacs__WriteBack__Modality"] = "no-such-modality";
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);
        await using var inference = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), env);

        await StoreScuAsync(await MakeDxAsync("dx.dcm"));
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select count(*) from results where task = 'report'") == 1, TimeSpan.FromSeconds(240)),
            "no report result:\n" + worker.Output);
        var resultId = await ScalarAsync<Guid>("select id from results");
        Assert.True(await TestServices.EventuallyAsync(() => Task.FromResult(worker.Output.Contains(
            $"Report result {resultId} is not valid: no SR sent", StringComparison.Ordinal)), TimeSpan.FromSeconds(60)), worker.Output);

        Assert.False(await ScalarAsync<bool>("select valid from results"));
        var errors = await ScalarAsync<string>("select validation_errors::text from results");
        Assert.Contains("report_sections: FINDINGS, IMPRESSION", errors, StringComparison.Ordinal);
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from report_deliveries"));
    }

    [Fact]
    public async Task A_send_that_keeps_failing_is_retried_with_backoff_and_stays_visible_as_failed()
    {
        var env = IntakeEnv();
        env["Inference__Tasks__report"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "report");
        env["Pacs__WriteBack__Enabled"] = "true";
        env["Pacs__WriteBack__SendInvalidReports"] = "true";   // the demo checkpoint writes noise
        env["Pacs__WriteBack__OrthancUrl"] = Orthanc.ToString();
        env["Pacs__WriteBack__Modality"] = "no-such-modality";
        env["Pacs__WriteBack__MaxAttempts"] = "3";
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);
        await using var inference = ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"), env);

        await StoreScuAsync(await MakeDxAsync("dx.dcm"));
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select count(*) from report_deliveries where status = 'failed'") == 1,
            TimeSpan.FromSeconds(240)), "the delivery did not end as failed:\n" + worker.Output);
        Assert.Equal(3, await ScalarAsync<int>("select attempts from report_deliveries"));
        Assert.Contains("no-such-modality", await ScalarAsync<string>("select last_error from report_deliveries"), StringComparison.Ordinal);
        Assert.Null(await ScalarAsync<DateTimeOffset?>("select sent_at from report_deliveries"));
    }

    [Fact]
    public async Task A_restart_of_the_intake_between_two_sends_ingests_every_instance_exactly_once()
    {
        var env = IntakeEnv();
        env["Roles"] = "intake";
        var first = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);

        var a = await MakeDxAsync("a.dcm");
        var (_, sopA) = await UidsAsync(a);
        await StoreScuAsync(a);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid = '{sopA}'") == 1,
            TimeSpan.FromSeconds(60)), "first instance not ingested:\n" + first.Output);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select coalesce(max(position), 0) from intake_cursors") > 0, TimeSpan.FromSeconds(10)), first.Output);
        // The feed has read (and saved its place past) every change Orthanc had when A arrived.
        var lastBeforeKill = await OrthancLastChangeAsync();
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select coalesce(max(position), 0) from intake_cursors") >= lastBeforeKill, TimeSpan.FromSeconds(30)), first.Output);
        first.Kill();
        await first.DisposeAsync();

        // While our intake is down: a second instance, and the first one again.
        var b = await MakeDxAsync("b.dcm");
        var (_, sopB) = await UidsAsync(b);
        await StoreScuAsync(b);
        await StoreScuAsync(a);

        await using var second = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid = '{sopB}'") == 1,
            TimeSpan.FromSeconds(60)), "second instance not ingested after the restart:\n" + second.Output);
        // Nothing else may arrive: wait until the feed has read every change Orthanc has, then count.
        var last = await OrthancLastChangeAsync();
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select coalesce(max(position), 0) from intake_cursors") >= last, TimeSpan.FromSeconds(30)), second.Output);

        Assert.Equal(2, await ScalarAsync<long>("select count(*) from documents where source = 'pacs'"));
        Assert.Equal(1, await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid = '{sopA}'"));
        Assert.Equal(1, await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid = '{sopB}'"));
        Assert.DoesNotContain("(new: False)", second.Output, StringComparison.Ordinal);
        Assert.Equal(1, await ScalarAsync<long>("select count(*) from intake_cursors"));
    }

    [Fact]
    public async Task With_the_stable_series_trigger_every_instance_of_a_series_is_ingested_once_the_series_is_complete()
    {
        var env = IntakeEnv();
        env["Roles"] = "intake";
        env["Pacs__Intake__Trigger"] = "StableSeries";
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), env);

        // Two instances of one series: the second is a copy with only a new SOP Instance UID.
        var first = await MakeDxAsync("s1.dcm");
        var second = Path.Combine(_root, "s2.dcm");
        File.Copy(first, second);
        await RunToolAsync("dcmodify", "-nb", "-gin", second);
        var (_, sop1) = await UidsAsync(first);
        var (_, sop2) = await UidsAsync(second);
        await StoreScuAsync(first);
        await StoreScuAsync(second);

        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid in ('{sop1}', '{sop2}') and source = 'pacs'") == 2,
            TimeSpan.FromSeconds(60)), "the series was not ingested:\n" + worker.Output);
        Assert.Equal(2, await ScalarAsync<long>("select count(*) from documents"));
    }

    [Fact]
    public async Task Stow_rs_with_one_good_and_one_broken_instance_stores_one_and_reports_the_other_as_failed()
    {
        var (api, client) = await ServiceProcess.StartApiAsync(new Dictionary<string, string>(_env) { ["Roles"] = "api" }, apiKey: null);
        await using var apiProcess = api;
        using var httpClient = client;

        var good = await MakeDxAsync("good.dcm");
        var (_, sop) = await UidsAsync(good);
        var broken = new byte[4096];
        Random.Shared.NextBytes(broken);

        // Without the key: refused like /v1/documents.
        using (var anonymous = Stow(await File.ReadAllBytesAsync(good)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/dicom-web/studies", anonymous)).StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/dicom-web/studies") { Content = Stow(await File.ReadAllBytesAsync(good), broken) };
        request.Headers.Add("X-Api-Key", Key);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/dicom+json"));
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}\n{api.Output}");
        Assert.Equal("application/dicom+json", response.Content.Headers.ContentType?.MediaType);

        using var json = JsonDocument.Parse(text);
        var stored = json.RootElement.GetProperty("00081199");
        Assert.Equal("SQ", stored.GetProperty("vr").GetString());
        var item = Assert.Single(stored.GetProperty("Value").EnumerateArray());
        Assert.Equal(sop, item.GetProperty("00081155").GetProperty("Value")[0].GetString());
        Assert.Equal("1.2.840.10008.5.1.4.1.1.4", item.GetProperty("00081150").GetProperty("Value")[0].GetString());
        var failed = Assert.Single(json.RootElement.GetProperty("00081198").GetProperty("Value").EnumerateArray());
        Assert.Equal("US", failed.GetProperty("00081197").GetProperty("vr").GetString());
        Assert.Equal(0xC000, failed.GetProperty("00081197").GetProperty("Value")[0].GetInt32());

        Assert.Equal(1, await ScalarAsync<long>($"select count(*) from documents where sop_instance_uid = '{sop}' and source = 'pacs'"));
        Assert.Equal(1, await ScalarAsync<long>("select count(*) from documents"));
    }

    private static MultipartContent Stow(params byte[][] parts)
    {
        var content = new MultipartContent("related", "stow-" + Guid.NewGuid().ToString("N"));
        content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        foreach (var bytes in parts)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
            content.Add(part);
        }

        return content;
    }

    /// <summary>Orthanc's /tools/find answer (a JSON array of instance ids) for a SOP Instance UID.</summary>
    private async Task<string> FindInOrthancAsync(string sopInstanceUid)
    {
        using var orthanc = OrthancClient();
        using var query = new StringContent(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["Level"] = "Instance", ["Query"] = new Dictionary<string, string> { ["SOPInstanceUID"] = sopInstanceUid },
        }), Encoding.UTF8, "application/json");
        using var response = await orthanc.PostAsync("tools/find", query);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return JsonSerializer.Serialize(json.RootElement);
    }

    /// <summary>The sequence number of Orthanc's latest change (<c>/changes?last</c>).</summary>
    private async Task<long> OrthancLastChangeAsync()
    {
        using var orthanc = OrthancClient();
        using var json = JsonDocument.Parse(await orthanc.GetStringAsync("changes?last"));
        return json.RootElement.GetProperty("Last").GetInt64();
    }

    private Task<List<string>> ColumnAsync(string sql) => TestServices.ColumnAsync(_postgres, sql);

    private HttpClient OrthancClient()
    {
        var http = new HttpClient { BaseAddress = new Uri(Orthanc.GetLeftPart(UriPartial.Authority) + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(Orthanc.UserInfo))));
        return http;
    }

    /// <summary>A synthetic DX chest radiograph from the corpus MR_small.dcm, with new UIDs and this test's body part.</summary>
    private async Task<string> MakeDxAsync(string name)
    {
        var path = Path.Combine(_root, name);
        File.Copy(Corpus.File("dicom", "MR_small.dcm"), path);
        await RunToolAsync("dcmodify", "-nb", "-i", "(0008,0060)=DX", "-i", $"(0018,0015)={_bodyPart}", "-gst", "-gse", "-gin", path);
        return path;
    }

    private static async Task<(string Study, string Sop)> UidsAsync(string path)
    {
        var dump = await RunToolAsync("dcmdump", "-Un", "+P", "0020,000d", "+P", "0008,0018", path);
        var study = UidLine().Matches(dump).Single(m => m.Groups["tag"].Value == "0020,000d").Groups["uid"].Value;
        var sop = UidLine().Matches(dump).Single(m => m.Groups["tag"].Value == "0008,0018").Groups["uid"].Value;
        return (study, sop);
    }

    private static Task StoreScuAsync(string path, string callingAe = "MODALITY") =>
        RunToolAsync("storescu", "-aet", callingAe, "-aec", "ORTHANC", "127.0.0.1", OrthancDicomPort, path);

    private static async Task<string> RunToolAsync(string tool, params string[] args)
    {
        using var p = StartTool(tool, args);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.Process.WaitForExitAsync(cts.Token);
        p.Process.WaitForExit();
        Assert.True(p.Process.ExitCode == 0, $"{tool} {string.Join(' ', args)} exited {p.Process.ExitCode}:\n{p.Output}");
        return p.Output;
    }

    private static Tool StartTool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return new Tool(Process.Start(psi)!);
    }

    private async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var conn = new NpgsqlConnection(_postgres);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    [GeneratedRegex(@"\((?<tag>[0-9a-f]{4},[0-9a-f]{4})\) UI \[(?<uid>[0-9.]+)\]")]
    private static partial Regex UidLine();

    [GeneratedRegex(@"[A-Za-z0-9 ]{3,20}")]
    private static partial Regex PlainRun();

    /// <summary>A dcmtk tool process; killed when disposed if still running.</summary>
    private sealed class Tool : IDisposable
    {
        private readonly StringBuilder _output = new();

        public Tool(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit();
            }

            Process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        }
    }
}
